"""imagesig: the image.openshift.io/v1 ImageSignature API as a signature store, verifier and policy gate."""

__version__ = "0.1.0"
