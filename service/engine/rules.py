"""Clinical thresholds and codes of CLINICAL_RULES.md, each with its source.

Every number the engine decides by lives here, as a named default of `Thresholds`,
so that a deployment can change it (`SCLC_CDS_THRESHOLDS_*`) and a reader can see
where it comes from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["DEFAULT_THRESHOLDS", "Thresholds"]

# §5.1: exposures starting within 28 days of a line's first exposure form its regimen
# (one 21-day cycle plus a week's slack).
REGIMEN_WINDOW_DAYS = 28
# §5.3(b), §5.5: two 21-day cycles; an agent given within this many days is "continued"
# (treatment beyond progression) and a line this recent is ongoing.
CONTINUATION_DAYS = 42
# §5.3(c): re-introducing an agent after this many days without it is a re-challenge.
# 000_e1d9681268751f05.txt: relapse within three months -> low response (the 90-day cut).
RECHALLENGE_GAP_DAYS = 90
# §4: an exposure starting more than 30 days before the SCLC diagnosis is not for SCLC,
# unless (v3) it is an SCLC agent and no other cancer Condition is dated before it.
PRE_DIAGNOSIS_DAYS = 30
# §5.4 (v3): a PD-1/PD-L1 inhibitor (or lurbinectedin) is maintenance or consolidation only
# when it starts within this many days of the line's last platinum-etoposide day (PACIFIC
# and ADRIATIC, 002_…: consolidation started 1-42 days after chemoradiation).
MAINTENANCE_START_DAYS = 42
# §7: 000_e1d9681268751f05.txt, relapse within three months of initial treatment ->
# low response to second-line chemotherapy; 90 days or more is "sensitive".
SENSITIVE_DAYS = 90
# §7: 003_4cac35924055ddfc.txt, platinum re-treatment ORR 49% in late relapse >= 180 days;
# its resistance definition is progression within 180 days of first-line platinum.
RECHALLENGE_WINDOW_DAYS = 180
# §7: 003_4cac35924055ddfc.txt (ANNAB) calls progression within 180 days of first-line
# platinum "resistant"; a card naming the class of a 90-179 day interval says both.
ANNAB_RESISTANT_DAYS = 180
# §9: performance status, 001_b4f620245f367cee.txt: an essential consideration; the
# documents' studies enrolled ECOG 0-1. At ECOG 3 or 4 nothing is `recommended`.
POOR_PERFORMANCE_ECOG = 3
# §10: ECOG and labs count only when dated within this many days before the evaluation.
OBSERVATION_MAX_AGE_DAYS = 30
# §10, 004_f50c1dc1e9887857.txt: "Aged 18-75 years".
TRIAL_MIN_AGE = 18
TRIAL_MAX_AGE = 75
# §10, 004_…: ECOG performance status 0 or 1.
TRIAL_MAX_ECOG = 1
# §10, 004_…: ANC >= 1.5x10^9/L; PLT >= 100x10^9/L; Hb >= 90 g/L; Cr <= 1.5xULN;
# eGFR >= 60 mL/min/1.73m2; INR <= 1.5.
TRIAL_MIN_ANC = 1.5
TRIAL_MIN_PLATELETS = 100.0
TRIAL_MIN_HEMOGLOBIN_G_L = 90.0
TRIAL_MAX_CREATININE_X_ULN = 1.5
TRIAL_MIN_EGFR = 60.0
TRIAL_MAX_INR = 1.5
# §9 study population of nab-paclitaxel + anlotinib, 003_4cac35924055ddfc.txt (Tian et
# al., Methods): aged 18-75, ECOG 0-1, ANC >= 1.5x10^9/L, platelets >= 90x10^9/L,
# WBC >= 3.0x10^9/L, total bilirubin <= 2.0 mg/dL, albumin >= 35 g/L, serum creatinine
# <= 1.5 mg/dL; uncontrolled hypertension (>= 160/100 mmHg) excluded.
ANNAB_MIN_AGE = 18
ANNAB_MAX_AGE = 75
ANNAB_MAX_ECOG = 1
ANNAB_MIN_ANC = 1.5
ANNAB_MIN_PLATELETS = 90.0
ANNAB_MIN_WBC = 3.0
ANNAB_MAX_BILIRUBIN_MG_DL = 2.0
ANNAB_MIN_ALBUMIN_G_L = 35.0
ANNAB_MAX_CREATININE_MG_DL = 1.5
ANNAB_MAX_SYSTOLIC = 160.0
ANNAB_MAX_DIASTOLIC = 100.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The decision thresholds, defaulting to the constants above."""

    regimen_window_days: int = REGIMEN_WINDOW_DAYS
    continuation_days: int = CONTINUATION_DAYS
    rechallenge_gap_days: int = RECHALLENGE_GAP_DAYS
    pre_diagnosis_days: int = PRE_DIAGNOSIS_DAYS
    maintenance_start_days: int = MAINTENANCE_START_DAYS
    sensitive_days: int = SENSITIVE_DAYS
    rechallenge_window_days: int = RECHALLENGE_WINDOW_DAYS
    annab_resistant_days: int = ANNAB_RESISTANT_DAYS
    poor_performance_ecog: int = POOR_PERFORMANCE_ECOG
    observation_max_age_days: int = OBSERVATION_MAX_AGE_DAYS
    trial_min_age: int = TRIAL_MIN_AGE
    trial_max_age: int = TRIAL_MAX_AGE
    trial_max_ecog: int = TRIAL_MAX_ECOG
    trial_min_anc: float = TRIAL_MIN_ANC
    trial_min_platelets: float = TRIAL_MIN_PLATELETS
    trial_min_hemoglobin_g_l: float = TRIAL_MIN_HEMOGLOBIN_G_L
    trial_max_creatinine_x_uln: float = TRIAL_MAX_CREATININE_X_ULN
    trial_min_egfr: float = TRIAL_MIN_EGFR
    trial_max_inr: float = TRIAL_MAX_INR
    annab_min_age: int = ANNAB_MIN_AGE
    annab_max_age: int = ANNAB_MAX_AGE
    annab_max_ecog: int = ANNAB_MAX_ECOG
    annab_min_anc: float = ANNAB_MIN_ANC
    annab_min_platelets: float = ANNAB_MIN_PLATELETS
    annab_min_wbc: float = ANNAB_MIN_WBC
    annab_max_bilirubin_mg_dl: float = ANNAB_MAX_BILIRUBIN_MG_DL
    annab_min_albumin_g_l: float = ANNAB_MIN_ALBUMIN_G_L
    annab_max_creatinine_mg_dl: float = ANNAB_MAX_CREATININE_MG_DL
    annab_max_systolic: float = ANNAB_MAX_SYSTOLIC
    annab_max_diastolic: float = ANNAB_MAX_DIASTOLIC


DEFAULT_THRESHOLDS = Thresholds()

# §2: SNOMED CT small cell carcinoma of lung and the staged variants Synthea emits.
SNOMED = "snomed"
SCLC_SNOMED = "254632001"
SCLC_STAGE_LIMITED_SNOMED = frozenset({"67811000119102", "67821000119109", "67831000119107"})
SCLC_STAGE_EXTENSIVE_SNOMED = frozenset({"67841000119103"})
SCLC_SNOMED_CODES = frozenset(
    {SCLC_SNOMED, *SCLC_STAGE_LIMITED_SNOMED, *SCLC_STAGE_EXTENSIVE_SNOMED}
)
NSCLC_SNOMED = "254637007"
# §2 v3: TNM stage Observations, the clinical / pathologic stage group and M category,
# by LOINC and by the SNOMED CT codes mCODE STU2+ gives the same observations
# (HL7/fhir-mCODE-ig input/fsh/VS_Staging_TNM.fsh: TNMStageGroupStagingTypeMaxVS,
# TNMDistantMetastasesStagingTypeMaxVS).
STAGE_GROUP_LOINC = frozenset({"21908-9", "21902-2"})  # Stage group.clinical / .pathology
M_CATEGORY_LOINC = frozenset({"21907-1", "21901-4"})  # Distant metastases.clinical / .pathology
STAGE_GROUP_SNOMED = frozenset({"399390009", "399537006", "399588009"})  # (clinical/pathologic)
M_CATEGORY_SNOMED = frozenset({"277208005", "399387003", "371497001"})  # M, cM, pM category
STAGE_OBSERVATION_CODES = (
    STAGE_GROUP_LOINC | M_CATEGORY_LOINC | STAGE_GROUP_SNOMED | M_CATEGORY_SNOMED
)
AJCC_SYSTEM_MARK = "cancerstaging.org"  # http://cancerstaging.org, AJCC's own codes
# ICD-O-3 morphologies of small cell carcinoma (8041/3 … 8045/3), with an ICD-10 C34 site.
SCLC_ICDO3_MORPHOLOGY = frozenset({"8041/3", "8042/3", "8043/3", "8044/3", "8045/3"})
LUNG_ICD10_PREFIX = "C34"
ICD10_SYSTEM_MARK = "icd-10"  # http://hl7.org/fhir/sid/icd-10 and icd-10-cm

# §6.1: mCODE cancer disease status (LOINC 97509-4). Its SNOMED CT values the engine
# understands, each with the public listing it was seen in, are data: `disease_status.toml`
# beside this module. (v3) "worsened" and the findings of progressive disease / tumour
# progression are a progression; the others are not; any other value is named (§11).
LOINC = "loinc"
DISEASE_STATUS_LOINC = "97509-4"
WORSENED_SNOMED = "271299001"


def _disease_status_values() -> list[dict[str, Any]]:
    text = resources.files("service.engine").joinpath("disease_status.toml").read_text("utf-8")
    values: list[dict[str, Any]] = tomllib.loads(text)["value"]
    return values


DISEASE_STATUS_VALUES = tuple(_disease_status_values())
PROGRESSION_SNOMED = frozenset(str(v["code"]) for v in DISEASE_STATUS_VALUES if v["progression"])
DISEASE_STATUS_OTHER_SNOMED = frozenset(
    str(v["code"]) for v in DISEASE_STATUS_VALUES if not v["progression"]
)
# §10 Observations.
ECOG_LOINC = "89247-1"
# LOINC answer codes of the ECOG scale (LL529-9), 0 … 5.
ECOG_ANSWERS = {
    "LA9622-7": 0,
    "LA9623-5": 1,
    "LA9624-3": 2,
    "LA9625-0": 3,
    "LA9626-8": 4,
    "LA9627-6": 5,
}
ANC_LOINC = frozenset({"751-8", "26499-4"})
PLATELETS_LOINC = frozenset({"777-3"})
HEMOGLOBIN_LOINC = frozenset({"718-7"})
CREATININE_LOINC = frozenset({"2160-0"})
EGFR_LOINC = frozenset({"33914-3", "62238-1", "98979-8"})
INR_LOINC = frozenset({"6301-6", "34714-6"})
# §9 study-population notes: WBC, total bilirubin, albumin, blood pressure.
WBC_LOINC = frozenset({"6690-2", "26464-8"})
BILIRUBIN_LOINC = frozenset({"1975-2", "42719-5"})
ALBUMIN_LOINC = frozenset({"1751-7", "2862-1", "61151-7"})
BLOOD_PRESSURE_PANEL_LOINC = frozenset({"85354-9", "55284-4"})
SYSTOLIC_LOINC = frozenset({"8480-6"})
DIASTOLIC_LOINC = frozenset({"8462-4"})

TRIAL_ID = "NCT07632209"
TRIAL_URL = "https://clinicaltrials.gov/study/NCT07632209"
