# Serve prm_viewer to a lab. Untested on the development machines (no Docker engine there).
FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
# torch first and pinned (a CPU-only image may point pip at the CPU wheel index instead).
RUN pip install torch==2.13.0
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# The app refuses to serve on 0.0.0.0 without a login ([auth] in .streamlit/secrets.toml, mounted
# at run time) unless PRM_VIEWER_ALLOW_ANONYMOUS=true; with a login, PRM_VIEWER_ADMINS lists who may
# register checkpoints and enable trust_remote_code. Checkpoints only from the mounted folder:
ENV PRM_VIEWER_CHECKPOINT_ROOTS=/app/data/checkpoints
EXPOSE 8501
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
