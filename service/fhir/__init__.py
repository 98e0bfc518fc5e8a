"""Reading FHIR: files and requests to resources, resources to the engine's record.

`load` reads files and JSON documents into resources; `reader` turns them into the
engine's records, planning (`planner`) and validating (`validation`) only what the
engine reads and building its facts (`facts`); `fingerprint` says what a read read, for
the assessment cache; `lenient` reads JSON before validation, for all of them.
"""

from service.fhir.fingerprint import Fingerprint
from service.fhir.lenient import canonical_ref
from service.fhir.load import RawResource, load_path, resources_from_json
from service.fhir.reader import Selection, build_record, build_records, select
from service.fhir.validation import (
    MEDICATION_KINDS,
    MODELS,
    OBSERVATION_CODES,
    OBSERVATION_LOINCS,
    USED_TYPES,
)

__all__ = [
    "MEDICATION_KINDS",
    "MODELS",
    "OBSERVATION_CODES",
    "OBSERVATION_LOINCS",
    "USED_TYPES",
    "Fingerprint",
    "RawResource",
    "Selection",
    "build_record",
    "build_records",
    "canonical_ref",
    "load_path",
    "resources_from_json",
    "select",
]
