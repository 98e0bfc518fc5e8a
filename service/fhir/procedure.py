"""Which Procedures a patient's record keeps, and what each is (CLINICAL_RULES v3 §1).

A Procedure is kept when it is systemic anticancer therapy recorded as a procedure
(chemotherapy, immunotherapy: it names no agent, so it is never a line) or radiotherapy
(prophylactic cranial irradiation and stereotactic radiosurgery included); one that is
both (chemoradiotherapy) is kept as both. Surgery and every other procedure are not
kept, nor one entered in error or not done. `procedure_kind` decides, for the builder
(from the models) and the reader's plan (from the JSON, `plain_procedure`) alike, on:

- the SNOMED CT codes of its `code` and `category`, each set below with the public
  listing that confirmed it;
- the words of their texts and displays: chemotherapy / chemo / immunotherapy /
  antineoplastic, and radiotherapy / radiation therapy / irradiation / PCI / SRS /
  SBRT / stereotactic radio…, never allergen immunotherapy, a coronary PCI, a port
  placement or chemoprophylaxis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from service.engine import rules
from service.engine.record import Code, ProcedureKind
from service.fhir.lenient import plain_codings

__all__ = [
    "CHEMORADIOTHERAPY_SNOMED",
    "EXCLUDED_STATUSES",
    "IMMUNOTHERAPY_SNOMED",
    "RADIOTHERAPY_SNOMED",
    "SYSTEMIC_SNOMED",
    "plain_procedure",
    "procedure_kind",
]

# §1: a Procedure with one of these statuses says nothing happened.
EXCLUDED_STATUSES = frozenset({"entered-in-error", "not-done"})

# Chemotherapy procedures: the SNOMED CT part of the VSAC value set "Chemotherapy
# Administration" (OID 2.16.840.1.113883.3.526.3.1027), as expanded for the eCQM updates
# of 2021-05-06 and 2025-05-08 in canvas-medical/canvas-plugins
# canvas_sdk/value_set/v2022/procedure.py and v2026/procedure.py (class
# ChemotherapyAdministration), displays as listed there. Its combined chemotherapy and
# radiotherapy concepts are CHEMORADIOTHERAPY_SNOMED; its "Radiochemotherapy: …"
# concepts (169397004-169403005, radionuclide therapy by their names) are left out.
SYSTEMIC_SNOMED = frozenset(
    {
        "4114003",  # Parenteral chemotherapy for malignant neoplasm
        "6872008",  # Perfusion chemotherapy for malignant neoplasm
        "12149006",  # Chemotherapy administration, subcutaneous, with local anesthesia
        "29391003",  # Chemotherapy administration into peritoneal cavity requiring paracentesis
        "31652009",  # Intracavitary chemotherapy for malignant neoplasm
        "38216008",  # Infusion chemotherapy for malignant neoplasm
        "51534007",  # Oral chemotherapy for malignant neoplasm
        "70446004",  # Chemotherapy administration into pleural cavity requiring thoracentesis
        "77738002",  # Local chemotherapy for malignant neoplasm
        "86036005",  # Intravenous chemotherapy administration by push technique
        "87776000",  # Intra-arterial infusion of antineoplastic agent
        "169396008",  # Radiomimetic chemotherapy
        "171765004",  # Intrathecal injection of chemotherapeutic agent
        "230857009",  # Injection of chemotherapeutic substance into subcutaneous reservoir
        "265760000",  # Intravenous chemotherapy (2021 expansion)
        "265761001",  # Intramuscular chemotherapy
        "265762008",  # Subcutaneous chemotherapy (2021 expansion)
        "266719004",  # Oral chemotherapy
        "268500004",  # Prophylactic chemotherapy (2021 expansion)
        "309698005",  # Continuous infusion of chemotherapy
        "315601005",  # Ambulatory chemotherapy
        "363688001",  # Administration of antineoplastic agent
        "367336001",  # Chemotherapy
        "394894008",  # Pre-operative chemotherapy
        "394895009",  # Postoperative chemotherapy
        "399042005",  # Chemotherapy cycle
        "420965003",  # Administration of prophylactic antineoplastic agent
        "450827009",  # Induction chemotherapy
        "700496000",  # Postoperative administration of antineoplastic agent into peritoneal cavity
        "716872004",  # Antineoplastic chemotherapy regimen
        "720379009",  # Hepatic arterial infusion chemotherapy
        "722472009",  # Rituximab, ifosfamide, carboplatin and etoposide chemotherapy regimen
        "722482005",  # Doxorubicin, bleomycin, vinblastine and dacarbazine chemotherapy regimen
        "722491009",  # Rituximab, cyclophosphamide, doxorubicin, vincristine and prednisone …
        "816151001",  # Administration of consolidation antineoplastic agent
        "830155008",  # Administration of hyperthermic antineoplastic agent into peritoneal cavity
        "830156009",  # Administration of hyperthermic antineoplastic agent into thoracic cavity
        "870249004",  # Folinic acid, fluorouracil and irinotecan … chemotherapy regimen
        "870250004",  # Fluorouracil, leucovorin, irinotecan and oxaliplatin … regimen
        "890093004",  # Administration of multiple antineoplastic agents
        "897713009",  # Antineoplastic chemoimmunotherapy
        "1141994004",  # Rituximab, cyclophosphamide, etoposide, vincristine, prednisone …
        "1172516002",  # High-dose chemotherapy with stem cell transplant
        "1254741007",  # Intensification antineoplastic therapy regimen
        "1254742000",  # Delayed intensification antineoplastic therapy regimen
        "1255831008",  # Chemotherapy for malignant neoplastic disease using targeted agent
        "1255834000",  # Administration of antineoplastic chemotherapy into peritoneal cavity
        "1255904006",  # Administration of palliative antineoplastic agent
        "1259200004",  # Neoadjuvant antineoplastic chemotherapy
        "1290226008",  # Administration of antineoplastic agent via intravenous route
        "1290228009",  # Administration of antineoplastic agent via subcutaneous route
        "455281000124104",  # Dose-dense methotrexate-vinblastine-doxorubicin-cisplatin …
        "455291000124101",  # Dose-adjusted etoposide-prednisolone-oncovin-… regimen
        "461391000124102",  # Folinic acid-fluorouracil-oxaliplatin regimen
    }
)
# 76334006 Immunotherapy (procedure): HL7/fhir-ichom-breast-cancer-ig (TreatmentTypeVS,
# "Immunotherapy"). SNOMED CT files allergen immunotherapy under it as well, so a record
# whose words say allergen immunotherapy is not systemic anticancer therapy.
IMMUNOTHERAPY_SNOMED = frozenset({"76334006"})
# Chemotherapy and radiotherapy in one record: the combined concepts of the VSAC value set
# above (canvas-medical/canvas-plugins, as above); 703423002 is what Synthea records
# for its lung cancer patients (../shared/external_fhir/synthea-r4, synthea-stu3).
CHEMORADIOTHERAPY_SNOMED = frozenset(
    {
        "394934009",  # Combined preoperative chemotherapy and radiotherapy
        "394935005",  # Combined post-operative chemotherapy and radiotherapy
        "703423002",  # Combined chemotherapy and radiation therapy
    }
)
RADIOTHERAPY_SNOMED = frozenset(
    {
        # HL7/fhir-mCODE-ig SD_Radiotherapy.fsh (the Radiotherapy Course Summary's code)
        # and EX_Radiotherapy.fsh (its category); 108290001 also
        # HL7/fhir-ichom-breast-cancer-ig TreatmentTypeVS.
        "1217123003",  # Radiotherapy course of treatment (regime/therapy)
        "108290001",  # Radiation oncology AND/OR radiotherapy
        # bvdh/dicom-terminology-in-fhir ValueSet-dicom-cid-6085 ("Radiation therapy").
        "1287742003",  # Radiotherapy
        # fhir-fli/cicada vs_immunization_procedures_snomed.fsh.
        "53438000",  # Radiation therapy procedure or service
        # HL7/fhir-mCODE-ig VS_Radiotherapy.fsh, TeleradiotherapyModalityVS.
        "10611004",  # External beam radiation therapy protons
        "45643008",  # External beam radiation therapy using electrons
        "80347004",  # External beam radiation therapy neutrons
        "1156505006",  # External beam radiation therapy using carbon ions
        "1156506007",  # External beam radiation therapy using photons
        # HL7/fhir-mCODE-ig VS_Radiotherapy.fsh, BrachytherapyModalityVS (its
        # "Administration of radiopharmaceutical" left out: a tracer for a scan too).
        "1156708005",  # Low dose rate brachytherapy using temporary radioactive source
        "169359004",  # Internal radiotherapy - permanent seeds
        "1156384006",  # Pulsed dose rate brachytherapy
        "394902000",  # High dose brachytherapy
        "438629002",  # High dose rate electronic brachytherapy
        # mcode/clinical-trial-matching-service spec/data (../shared/external_fhir).
        "448385000",  # Megavoltage radiation therapy using photons
    }
)

# Words. Each reads a whole word or the start of one ("chemo" is not "chemoprophylaxis").
_CHEMO = re.compile(
    r"\bchemo(?:therap\w*|radi\w*|[-\s]?immuno\w*)?\b|\bantineoplastic\b"
    r"|\bsystemic\s+(?:anti[-\s]?cancer|antineoplastic)\s+therap",
    re.IGNORECASE,
)
_IMMUNOTHERAPY = re.compile(r"\bimmunotherap", re.IGNORECASE)
# Allergen immunotherapy (desensitisation) is no anticancer therapy.
_ALLERGEN = re.compile(
    r"allerg|desensiti[sz]|hyposensiti[sz]|venom|pollen|sublingual|\bscit\b|\bslit\b"
    r"|subcutaneous\s+immunotherap",
    re.IGNORECASE,
)
# Placing or tending the device chemotherapy goes through is not the therapy.
_DEVICE = re.compile(r"\bport\b|portacath|port-a-cath|chemoport|\bcatheter|\bpicc\b", re.IGNORECASE)
_DEVICE_WORK = re.compile(
    r"insert|placement|\bplac(?:e|ed|ing)\b|implant|remov|flush|irrigat|replac|revision",
    re.IGNORECASE,
)
_RADIOTHERAPY = re.compile(
    r"radiotherap|radiation\s+(?:therap|treatment|oncology)|brachytherap|radiosurg"
    r"|\b(?:srs|sbrt|sabr|ebrt|imrt|vmat)\b|gamma\s*knife|cyber\s*knife"
    r"|stereotactic\s+(?:\w+\s+){0,2}(?:radi|ablative)|proton\s+(?:beam\s+)?therap",
    re.IGNORECASE,
)
# Ultraviolet "radiation therapy" is phototherapy.
_ULTRAVIOLET = re.compile(r"ultraviolet|\buv[ab]?\b|phototherap", re.IGNORECASE)
# "Irradiation" of a patient (cranial, whole brain, thoracic …), not of blood products.
_IRRADIATION = re.compile(r"\birradiation\b", re.IGNORECASE)
_BLOOD = re.compile(r"blood|\bproducts?\b|platelet|\bcells?\b", re.IGNORECASE)
# PCI (prophylactic cranial irradiation) is also a percutaneous coronary intervention.
_PCI = re.compile(r"\bpci\b", re.IGNORECASE)
_CORONARY = re.compile(r"coronar|percutaneous|stent|angio|cardi|arter|balloon", re.IGNORECASE)


def _says_systemic(words: str) -> bool:
    if _DEVICE.search(words) and _DEVICE_WORK.search(words):
        return False
    if _CHEMO.search(words):
        return True
    return bool(_IMMUNOTHERAPY.search(words)) and not _ALLERGEN.search(words)


def _says_radiotherapy(words: str) -> bool:
    if _ULTRAVIOLET.search(words):
        return False
    if _RADIOTHERAPY.search(words):
        return True
    if _IRRADIATION.search(words) and not _BLOOD.search(words):
        return True
    return bool(_PCI.search(words)) and not _CORONARY.search(words)


@lru_cache(maxsize=4096)
def _kind(codes: tuple[Code, ...], texts: tuple[str, ...]) -> ProcedureKind | None:
    words = " | ".join([*texts, *(c.display for c in codes if c.display)])
    snomed = {c.code for c in codes if rules.SNOMED in c.system.lower()}
    allergen = bool(_ALLERGEN.search(words))
    systemic = bool(snomed & SYSTEMIC_SNOMED) or _says_systemic(words)
    systemic = systemic or (bool(snomed & IMMUNOTHERAPY_SNOMED) and not allergen)
    radiotherapy = bool(snomed & RADIOTHERAPY_SNOMED) or _says_radiotherapy(words)
    if snomed & CHEMORADIOTHERAPY_SNOMED or (systemic and radiotherapy):
        return "chemoradiotherapy"
    if systemic:
        return "systemic"
    return "radiotherapy" if radiotherapy else None


def procedure_kind(codes: Iterable[Code], texts: Iterable[str]) -> ProcedureKind | None:
    """What a Procedure with these codings (of its `code` and `category`) and texts is,
    or None for one the record does not keep."""
    return _kind(tuple(codes), tuple(texts))


def plain_procedure(resource: Mapping[str, Any]) -> tuple[tuple[Code, ...], tuple[str, ...]] | None:
    """The codings and texts `procedure_kind` reads of a Procedure's JSON (its `code` and
    `category`), as the models read them; None when a part of them is malformed."""
    codes: list[Code] = []
    texts: list[str] = []
    for name in ("code", "category"):
        concept = resource.get(name)
        if concept is None:
            continue
        found = plain_codings(concept)
        if found is None:
            return None
        text = concept.get("text")
        if text is not None and not isinstance(text, str):
            return None
        codes.extend(found)
        texts.extend([text] if text else [])
    return tuple(codes), tuple(texts)
