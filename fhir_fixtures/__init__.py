"""The synthetic patients named by scenario, shipped with the package as data.

`sclc-cds serve` serves them at the fixture `/fhir` and lists them on `/demo`, so a plain
`pip install` of the package has its demo patients (`importlib.resources.files`).
"""
