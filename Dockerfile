# Accord as a container: `accord serve` on port 8000, as an unprivileged user.
# Build: docker build -t accord .      Run with PostgreSQL: docker compose up (compose.yaml)
# The dependencies are the exact pins of pyproject.toml; the base image is pinned by version.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/accord \
    && /opt/accord/bin/pip install --upgrade pip \
    && /opt/accord/bin/pip install .

FROM python:3.11.13-slim-bookworm
# WeasyPrint (subject access letters as PDF) needs Pango; fonts for the letters.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 accord \
    && useradd --system --uid 10001 --gid accord --home-dir /var/lib/accord --create-home accord \
    && install -d -m 0700 -o accord -g accord /var/lib/accord/keys
COPY --from=build /opt/accord /opt/accord
ENV PATH=/opt/accord/bin:$PATH PYTHONUNBUFFERED=1
USER accord:accord
WORKDIR /var/lib/accord
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["accord"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
