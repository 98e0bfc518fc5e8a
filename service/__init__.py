"""sclc-relapse-cds: CDS Hooks decision support for relapsed small-cell lung cancer.

Importing the package builds and loads nothing. The clinical core (`engine`, `fhir`,
`knowledge`, `cards`, `pipeline`, `hooks`) imports no web, storage or cluster package;
the surfaces around it are `http` (the CDS Hooks service, `http.factory.create_app`),
`smart` (the SMART app), `demo` (the demo EHR and synthetic fixtures) and `screen` (a
population from a Bulk Data export). README's "Layout" names every module.
"""

__all__: list[str] = []
