# agent-personas: one image for the MCP server (streamable HTTP) and workers.
FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app
# CPU torch first, so sentence-transformers does not pull a CUDA build.
RUN pip install --no-cache-dir "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY mcp_server ./mcp_server
COPY worker ./worker
COPY personas ./personas
COPY standards ./standards
RUN pip install --no-cache-dir .
# The server's data dir: a named volume mounted here starts as a copy of this folder, so it is
# writable by the unprivileged user (a folder Docker creates would belong to root).
RUN mkdir -p /data && chown 1000:1000 /data
# No passwd entry for uid 1000: give caches a writable home.
ENV HOME=/tmp
USER 1000:1000
ENTRYPOINT ["personas"]
