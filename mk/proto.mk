# Regenerates the checked-in protobuf modules (src/imagesig/api/proto/*_pb2.py and
# *_pb2.pyi) from the .proto files beside them, so that installing imagesig needs no
# protoc. The import root is src/, which makes the generated imports absolute
# (imagesig.api.proto.meta_pb2). Output depends only on the pinned grpcio-tools.
#
# protoc's stubs use bare `Mapping` and an untyped `**kwargs` (for ListMeta's
# `continue`), which `mypy --strict src` reports; a first line turns off those two
# codes in the stubs only, so importers still get the types.
#
# Included from the top-level Makefile: `include mk/proto.mk`.

PROTO_PYTHON ?= .venv/bin/python
PROTO_DIR := src/imagesig/api/proto
PROTO_SRC := $(sort $(wildcard $(PROTO_DIR)/*.proto))
PROTO_PYI_HEADER := \# mypy: disable-error-code="type-arg,no-untyped-def"

.PHONY: proto
proto:
	rm -f $(PROTO_DIR)/*_pb2.py $(PROTO_DIR)/*_pb2.pyi
	$(PROTO_PYTHON) -m grpc_tools.protoc -Isrc --python_out=src --pyi_out=src $(PROTO_SRC)
	for stub in $(PROTO_DIR)/*_pb2.pyi; do \
	  { printf '%s\n' '$(PROTO_PYI_HEADER)'; cat "$$stub"; } > "$$stub.tmp" && mv "$$stub.tmp" "$$stub"; \
	done
