# The lab's image: the package, its scenarios, and Celery at the pinned version.
# BASE_IMAGE is a build argument so that CI (which reaches no image registry) can
# build from a base image it made itself.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
WORKDIR /lab
COPY pyproject.toml README.md ./
COPY lab ./lab
COPY scenarios ./scenarios
COPY docker ./docker
RUN pip install --no-cache-dir -e .
CMD ["python", "-m", "lab", "list"]
