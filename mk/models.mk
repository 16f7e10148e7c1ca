# The model table (lua/omnihuman/models_data.lua), made from
# models/catalogue.json (facts taken from the service's API reference) and
# models/overrides.lua (limits stated in prose). `make models` needs no
# network; `make models-extract DOCS=<folder>` refreshes the facts from a
# local copy of docs/api-references/video-models of aimlapi/api-docs: it
# pins the parts the extractor reads into models/reference/ (committed: a
# spec regenerates the facts from it), then extracts from the pinned copy.
.PHONY: models models-extract
models:
	$(LUA) tools/models/generate.lua . > lua/omnihuman/models_data.lua.tmp
	mv lua/omnihuman/models_data.lua.tmp lua/omnihuman/models_data.lua
	$(LUA) tools/models/generate.lua . doc > docs/models.md.tmp
	mv docs/models.md.tmp docs/models.md

models-extract:
	@test -n "$(DOCS)" || { echo "usage: make models-extract DOCS=<folder of video-models/*.json>"; exit 2; }
	rm -rf models/reference
	python3 tools/models/pin.py "$(DOCS)" models/reference
	python3 tools/models/extract.py models/reference > models/catalogue.json.tmp
	mv models/catalogue.json.tmp models/catalogue.json
	@$(MAKE) --no-print-directory models
