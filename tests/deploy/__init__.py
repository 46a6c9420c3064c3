"""Offline checks of deploy/: Dockerfiles, the compose file and the Kubernetes manifests."""
