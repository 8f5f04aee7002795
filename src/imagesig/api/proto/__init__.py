"""Generated protobuf modules for the Kubernetes wire format (``make proto``)."""
