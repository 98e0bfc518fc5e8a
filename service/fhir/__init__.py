"""Reading FHIR: files and requests to resources, resources to the engine's record."""

from service.fhir.load import RawResource, load_path, resources_from_json
from service.fhir.parse import build_record, build_records

__all__ = ["RawResource", "build_record", "build_records", "load_path", "resources_from_json"]
