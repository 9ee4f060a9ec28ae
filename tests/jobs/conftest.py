"""Fixtures of the job tests: a throwaway Redis and a cluster installation on it."""

from tests.jobs.cluster_fixtures import cluster, redis_server, short_lease_cluster

__all__ = ["cluster", "redis_server", "short_lease_cluster"]
