FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/qunyun
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --home /srv/qunyun qunyun
USER qunyun
EXPOSE 8000
CMD ["qunyun", "serve", "--host", "0.0.0.0", "--port", "8000"]
