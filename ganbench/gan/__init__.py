"""The GAN kind: variants (:mod:`.variants`, one module each, on :mod:`.model`), the one Ignite
trainer (:mod:`.trainer`) and its losses (:mod:`.losses`), one run (:mod:`.run`: train with the
shared handlers, evaluate on one shared sample set from :mod:`.sampling`), suites (:mod:`.suite`,
the built-in ones in :mod:`.suites`) and the kind's report section (:mod:`.report`)."""
