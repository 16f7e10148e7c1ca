# The suite against each flavor of the test server (spec/support/server.py
# --flavor; what each answers is described there): `make test` once per
# flavor, every server of the run in that flavor. A plain `make test` takes
# the flavors in turn, one server start after the other.
#   make test-flavors                  current, then legacy
#   make test-flavors FLAVORS=legacy   one of them
FLAVORS ?= current legacy

.PHONY: test-flavors
test-flavors:
	@fail=0; for f in $(FLAVORS); do \
	  echo "== flavor $$f"; \
	  OMH_TEST_FLAVOR=$$f $(MAKE) --no-print-directory test LUA=$(LUA) || fail=1; \
	done; exit $$fail
