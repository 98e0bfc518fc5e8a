"""sclc-relapse-cds: CDS Hooks decision support for relapsed small-cell lung cancer."""

__all__: list[str] = []
