"""The knowledge base: the data the option and trial cards are built from.

One TOML file per option of CLINICAL_RULES §9 (`option-<id>.toml`) and one per trial of
§10 (`trial-<NCT id>.toml`), each citing the source documents of `../shared/docs/` by
file name, and `sources.toml`, which describes those documents (title, publisher, date,
a short label, the public address where verified). `service.knowledge` reads and
validates them; this package holds data only.
"""
