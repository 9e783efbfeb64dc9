"""Curation of standards (the service): proposals from persona runs, human approval, safe publishing.

``store`` keeps proposals in SQLite, ``service`` is the approval service (show, approve, reject,
request changes), ``publish`` writes standards files safely, ``secrets`` refuses content holding
credentials, ``importing`` brings existing documents in, ``models`` are the results and errors.
"""
