# One image for the web node and the worker (docker-compose.yml chooses the command).
FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY . /app
# Editable: the package finds static/, templates/, data/samples and the examples beside it.
RUN pip install -e . && useradd --create-home strategylab \
    && mkdir -p /app/data /app/runs && chown -R strategylab /app/data /app/runs
USER strategylab
EXPOSE 8000
CMD ["strategylab", "serve", "--host", "0.0.0.0", "--port", "8000"]
