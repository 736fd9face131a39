# The lab's image: the package, its scenarios, and Celery at the pinned version.
# BASE_IMAGE is a build argument so that CI (which reaches no image registry) can
# build from a base image it made itself.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
# Debian's redis-server: the docker runtime (lab/runtime/docker/containers.py) runs every node from this one image.
RUN [ -x /usr/bin/redis-server ] || (apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*)
WORKDIR /lab
# The dependencies in a layer of their own (an empty package stands in for the code), so that a
# change to the code rebuilds only the copies below; the editable install finds the real lab/.
COPY pyproject.toml README.md requirements.lock ./
RUN mkdir lab && touch lab/__init__.py && pip install --no-cache-dir -r requirements.lock \
    && pip install --no-cache-dir --no-deps -e . && rm -r lab
COPY lab ./lab
COPY scenarios ./scenarios
COPY docker ./docker
CMD ["python", "-m", "lab", "list"]
