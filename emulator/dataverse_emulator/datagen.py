"""Seeded synthetic HR data set (plus a little pre-existing URS data) at any scale.

``generate`` is deterministic for a given ``config.seed`` and ``config.scale`` (= number of workers)
and referentially intact: every lookup that targets an emulated table resolves. About 12 rows per
worker across the 16 original tables (scale=80_000 gives roughly a million rows) plus 5-6 in the
compensation, benefits and leave tables (``datagen_coverage``).

Rows are lean: a column whose value is null is simply absent from the row dict (readers use
``row.get``); system columns (statecode, statuscode, versionnumber) are filled in by ``Store.load``.
Repeated strings (dates, codes, titles) are shared objects rather than fresh copies.

Realistic mess on purpose: optional columns left null, workers without an employment, terminated
workers (employment ended in the past, cdm_status inactive), pending hires (start in the future),
expired certificates, target-level skills alongside actual ones, names with apostrophes and
non-ASCII letters.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, timedelta
from sys import intern

from .clock import Clock
from .config import EmulatorConfig
from .datagen_coverage import generate_coverage
from .defects import apply_data_defects
from .schema import (
    LEVEL_TYPE_ACTUAL,
    LEVEL_TYPE_TARGET,
    WORKER_STATUS_ACTIVE,
    WORKER_STATUS_INACTIVE,
    TableDef,
    format_datetime,
)

TEST_EMPLOYEE = "000001"  # always generated, active, employed, with skills: demos change its title
APOSTROPHE_EMPLOYEE = "000002"  # always "Siobhán O'Brien": filter-escaping and non-ASCII tests

COMPANIES = [("USMF", "Contoso Entertainment USA"), ("DEMF", "Contoso Deutschland GmbH"),
             ("GBSI", "Contoso UK Services Ltd"), ("FRRT", "Contoso France SAS")]
FIRST_NAMES = [
    "Alex", "Maria", "James", "Aisha", "Wei", "Sofia", "Liam", "Olivia", "Noah", "Emma", "Lucas", "Mia",
    "Ethan", "Chloe", "Mateo", "Hannah", "Daniel", "Grace", "Samuel", "Priya", "Omar", "Yuki", "Ivan",
    "Fatima", "Peter", "Laura", "David", "Sara", "Tom", "Anna", "José", "Zoë", "Søren", "Łukasz",
    "François", "Björn", "Inés", "Ngozi", "Chiara", "Mehmet", "Siobhán", "Renée", "Dmitri", "Anaïs",
]
LAST_NAMES = [
    "Smith", "Johnson", "Garcia", "Brown", "Lee", "Wilson", "Martin", "Anderson", "Taylor", "Thomas",
    "Moore", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
    "Lopez", "Hill", "Scott", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "O'Brien",
    "O'Connor", "D'Angelo", "Müller", "Ødegaard", "Nguyễn", "Çelik", "Kowalczyk", "Núñez", "Schäfer",
    "Dvořák", "Østergaard", "Sánchez", "Björk", "Le Blanc", "van der Berg",
]
JOB_TITLES = [
    "Accountant", "Analyst", "Software Engineer", "Data Engineer", "HR Generalist", "Recruiter",
    "Payroll Specialist", "Sales Representative", "Account Manager", "Field Technician", "Electrician",
    "Warehouse Operator", "Forklift Driver", "Project Manager", "Product Owner", "Designer",
    "Customer Service Agent", "Team Lead", "Buyer", "Controller", "Legal Counsel", "Nurse",
    "Maintenance Planner", "Quality Inspector", "Service Dispatcher", "Trainer", "Scheduler",
    "Office Manager", "IT Support Specialist", "Security Officer",
]
JOB_LEVELS = ["", "Junior ", "Senior ", "Principal "]
DEPARTMENTS = [
    "Finance", "Human Resources", "Engineering", "Sales", "Marketing", "Operations", "Logistics",
    "Field Service", "Customer Support", "Legal", "Procurement", "IT", "Facilities", "Quality",
    "Research", "Training",
]
SKILL_TYPES = [("Administration", "Administrative skills"), ("Sales", "Sales and negotiation"),
               ("Technical", "Technical and engineering"), ("Leadership", "Leading people"),
               ("Language", "Spoken and written languages"), ("Finance", "Finance and accounting"),
               ("Safety", "Health and safety"), ("Communication", "Communication")]
# Rating models: (id, description, [(level id, description, factor)]); factors unique 0-9 per model.
RATING_MODELS = [
    ("Skills", "General skill rating", [("1", "Beginner", 0), ("2", "Basic", 2), ("3", "Satisfactory", 4),
                                         ("4", "Advanced", 6), ("5", "Expert", 9)]),
    ("Language", "Language proficiency", [("A", "Elementary", 1), ("B", "Independent", 3),
                                           ("C", "Proficient", 6), ("N", "Native", 9)]),
    ("Typing", "Typing speed", [("1", "Slow", 2), ("2", "Average", 1), ("3", "Fast", 0)]),  # AX 2012 example
]
SKILLS = {  # skill type -> skill ids (<= 20 chars, the F&O limit)
    "Administration": ["Planning", "Scheduling", "Filing", "Minute taking", "Office 365", "Excel",
                       "Data entry", "Typing"],
    "Sales": ["Negotiation", "Cold calling", "CRM", "Upselling", "Key accounts", "Presentations"],
    "Technical": ["HTML", "Python", "SQL", "Java", "C#", "Networking", "Linux", "Azure", "Power BI",
                  "Welding", "PLC programming", "HVAC", "Electrical wiring", "Forklift", "CAD",
                  "Hydraulics", "Dataverse", "Airflow"],
    "Leadership": ["Supervisory", "Leadership", "Coaching", "Mentoring", "Change management",
                   "Conflict resolution", "Budgeting"],
    "Language": ["English", "German", "French", "Spanish", "Danish", "Polish", "Mandarin", "Arabic",
                 "Japanese", "Norwegian"],
    "Finance": ["Bookkeeping", "IFRS", "US GAAP", "Payroll", "Tax", "Auditing", "Forecasting"],
    "Safety": ["First aid", "Fire safety", "Risk assessment", "Hazmat", "Lockout tagout"],
    "Communication": ["Public speaking", "Technical writing", "Customer empathy", "Facilitation"],
}
CERTIFICATE_TYPES = [
    ("FORKLIFT", "Forklift operator licence", True), ("FIRSTAID", "First aid at work", True),
    ("PMP", "Project Management Professional", True), ("CPA", "Certified Public Accountant", False),
    ("ITIL4", "ITIL 4 Foundation", False), ("AZ-104", "Azure Administrator Associate", True),
    ("AWS-SAA", "AWS Solutions Architect Associate", True), ("CISSP", "CISSP", True),
    ("FOODHYG", "Food hygiene level 2", True), ("FIREWARDEN", "Fire warden", True),
    ("DRIVE-C", "Driving licence category C", True), ("SIXSIGMA-GB", "Six Sigma Green Belt", False),
    ("CSM", "Certified ScrumMaster", True), ("ELEC-SAFE", "Electrical safety", True),
    ("HEIGHTS", "Working at heights", True), ("HACCP", "HACCP level 3", True),
    ("IOSH", "IOSH Managing Safely", False), ("NEBOSH", "NEBOSH General Certificate", False),
    ("PRINCE2", "PRINCE2 Practitioner", True), ("GDPR-P", "GDPR Practitioner", True),
]
CITIES = [("Seattle", "WA", "98101", "USA", -8), ("Chicago", "IL", "60601", "USA", -6),
          ("Berlin", "BE", "10115", "DEU", 1), ("München", "BY", "80331", "DEU", 1),
          ("London", "", "EC1A 1BB", "GBR", 0), ("Manchester", "", "M1 1AE", "GBR", 0),
          ("Paris", "", "75001", "FRA", 1), ("Lyon", "", "69001", "FRA", 1), ("Kraków", "", "30-001", "POL", 1),
          ("São Paulo", "SP", "01000-000", "BRA", -3)]
STREETS = ["Main Street", "Oak Avenue", "Hauptstraße", "Rue de la Paix", "High Street", "Königsallee",
           "Elm Road", "Station Road", "Rua Augusta", "Church Lane"]
NATIONALITIES = ["USA", "DEU", "GBR", "FRA", "POL", "BRA", "IND", "NOR", "DNK", "ESP"]
EDUCATION = ["High school", "Vocational", "Bachelor", "Master", "PhD"]
# Dataverse time-zone codes per UTC offset of the cities above.
TIMEZONE_BY_OFFSET = {-8: 4, -6: 20, -3: 65, 0: 85, 1: 110}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


class _Generator:
    def __init__(self, config: EmulatorConfig, schema: dict[str, TableDef], clock: Clock) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.today = clock.now().astimezone(UTC).date()
        self.p = config.hr_virtual_prefix
        self.out: dict[str, list[dict]] = {name: [] for name in schema}
        self._day_cache: dict[int, tuple[str, str]] = {}
        # Row timestamps come from a sorted pool so strings are shared; createdon <= modifiedon.
        now = clock.now()
        self._stamps = sorted(
            format_datetime(now - timedelta(seconds=self.rng.randrange(86400, 3 * 365 * 86400)))
            for _ in range(2048)
        )
        self.width = max(6, len(str(config.scale)))
        self._ascii_first = {n: _ascii(n) for n in FIRST_NAMES}
        self._ascii_last = {n: _ascii(n) for n in LAST_NAMES}

    # --- helpers -------------------------------------------------------------------------------

    def guid(self) -> str:
        """Random (version 4) GUID from the seeded RNG; formatting by hand is 3x faster than uuid.UUID."""
        n = self.rng.getrandbits(128)
        n = (n & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _day(self, offset: int) -> tuple[str, str]:
        """(date-only string, midnight datetime string) for today + offset days, cached and shared."""
        cached = self._day_cache.get(offset)
        if cached is None:
            d = (self.today + timedelta(days=offset)).isoformat()
            cached = self._day_cache[offset] = (d, f"{d}T00:00:00Z")
        return cached

    def date(self, offset: int) -> str:
        return self._day(offset)[0]

    def dt(self, offset: int) -> str:
        return self._day(offset)[1]

    def add(self, table: str, row: dict) -> dict:
        i = int(self.rng.random() * 2048)
        row["createdon"] = self._stamps[i]
        row["modifiedon"] = self._stamps[min(2047, i + int(self.rng.random() * 64))]
        # Column names built with f-strings (the HR prefix) are new strings per row: share one copy
        # per name (about a third of the data set's memory at scale). The dict keeps its identity.
        items = list(row.items())
        row.clear()
        row.update((intern(k), v) for k, v in items)
        self.out[table].append(row)
        return row

    def pick(self, seq: list):
        return seq[int(self.rng.random() * len(seq))]

    # --- reference data ------------------------------------------------------------------------

    def reference_data(self) -> None:
        r, scale = self.rng, self.config.scale
        self.companies = [self.add("cdm_company", {"cdm_companyid": self.guid(), "cdm_name": name,
                                                   "cdm_companycode": code})
                          for code, name in COMPANIES]

        n_departments = max(8, min(400, scale // 25))
        self.departments: list[dict] = []
        for i in range(n_departments):
            base = DEPARTMENTS[i % len(DEPARTMENTS)]
            row = {"cdm_departmentid": self.guid(), "cdm_departmentnumber": f"OU-{i + 1:04d}",
                   "cdm_name": base if i < len(DEPARTMENTS) else f"{base} {i // len(DEPARTMENTS) + 1}"}
            if i >= 4:  # the first few are roots; the rest hang under an earlier department
                row["cdm_parentdepartmentid"] = self.departments[int(r.random() * min(i, 4 + i // 4))][
                    "cdm_departmentid"]
            if r.random() < 0.6:
                row["cdm_description"] = f"{row['cdm_name']} department"
            self.departments.append(self.add("cdm_department", row))

        n_jobs = max(10, min(len(JOB_TITLES) * len(JOB_LEVELS), scale // 40))
        self.jobs: list[dict] = []
        for i in range(n_jobs):
            title = JOB_LEVELS[(i // len(JOB_TITLES)) % len(JOB_LEVELS)] + JOB_TITLES[i % len(JOB_TITLES)]
            row = {"cdm_jobid": self.guid(), "cdm_name": title, "cdm_description": title,
                   "cdm_validfrom": self.dt(-3650 - int(r.random() * 1000)),
                   "cdm_allowunlimitedpositions": r.random() < 0.8,
                   "cdm_defaultfulltimeequivalent": 1.0 if r.random() < 0.85 else 0.5}
            if r.random() < 0.5:
                row["cdm_jobdescription"] = f"Responsible for the work of a {title.lower()}."
            if not row["cdm_allowunlimitedpositions"]:
                row["cdm_maximumnumberofpositions"] = 5 + int(r.random() * 200)
            self.jobs.append(self.add("cdm_job", row))

        self.skilltypes = [self.add("cdm_skilltype", {"cdm_skilltypeid": self.guid(), "cdm_name": name,
                                                      "cdm_description": desc})
                           for name, desc in SKILL_TYPES]

        p = self.p
        self.models: dict[str, tuple[dict, list[dict]]] = {}
        for model_id, desc, levels in RATING_MODELS:
            model = self.add(f"{p}hcmratingmodelentity", {
                f"{p}hcmratingmodelentityid": self.guid(), f"{p}ratingmodelid": model_id,
                f"{p}description": desc, f"{p}primaryfield": model_id})
            level_rows = []
            for level_id, level_desc, factor in levels:
                row = {f"{p}hcmratinglevelentityid": self.guid(), f"{p}ratinglevelid": level_id,
                       f"{p}ratingmodelid": model_id,
                       f"{p}fk_ratingmodelentity_id": model[f"{p}hcmratingmodelentityid"],
                       f"{p}description": level_desc, f"{p}factor": factor,
                       f"{p}primaryfield": f"{level_id}, {model_id}"}
                if r.random() < 0.3:
                    row[f"{p}note"] = f"{level_desc} level"
                level_rows.append(self.add(f"{p}hcmratinglevelentity", row))
            self.models[model_id] = (model, level_rows)

        self.skills: list[tuple[dict, list[dict]]] = []  # (skill row, levels of its rating model)
        for skill_type, names in SKILLS.items():
            for name in names:
                model_id = "Language" if skill_type == "Language" else "Typing" if name == "Typing" else "Skills"
                model, levels = self.models[model_id]
                row = {f"{p}hcmskillentityid": self.guid(), f"{p}skillid": name,
                       f"{p}ratingid": model_id, f"{p}fk_ratingmodel_id": model[f"{p}hcmratingmodelentityid"],
                       f"{p}skilltypeid": skill_type, f"{p}primaryfield": name}
                if r.random() < 0.8:
                    row[f"{p}description"] = f"{name} ({skill_type.lower()})"
                self.skills.append((self.add(f"{p}hcmskillentity", row), levels))

        self.certtypes = [self.add(f"{p}hcmcertificatetypeentity", {
            f"{p}hcmcertificatetypeentityid": self.guid(), f"{p}certificatetype": code,
            f"{p}description": desc, f"{p}requirerenewal": 200000001 if renew else 200000000,
            f"{p}primaryfield": code}) for code, desc, renew in CERTIFICATE_TYPES]

    # --- workers -------------------------------------------------------------------------------

    def workers(self) -> None:
        r, scale = self.rng, self.config.scale
        positions: list[dict] = []
        worker_col = self.config.bookableresource_worker_column
        for i in range(1, scale + 1):
            number = f"{i:0{self.width}d}"
            job = self.pick(self.jobs)
            position = {"cdm_jobpositionid": self.guid(), "cdm_jobpositionnumber": f"P{number}",
                        "cdm_jobid": job["cdm_jobid"],
                        "cdm_validfrom": self.dt(-4000 + int(r.random() * 400)),
                        "cdm_fulltimeequivalent": job["cdm_defaultfulltimeequivalent"]}
            if r.random() < 0.95:
                position["cdm_departmentid"] = self.pick(self.departments)["cdm_departmentid"]
            if i > 5:  # a reporting tree: roughly 7 reports per manager
                position["cdm_parentjobpositionid"] = positions[(i - 1) // 7]["cdm_jobpositionid"]
            positions.append(self.add("cdm_jobposition", position))

            first, last = self.pick(FIRST_NAMES), self.pick(LAST_NAMES)
            if number == APOSTROPHE_EMPLOYEE:
                first, last = "Siobhán", "O'Brien"
            # Employment story: mostly active; some terminated, pending, or never employed.
            story = r.random()
            if number == TEST_EMPLOYEE or story < 0.88:
                status, start, end = "active", -int(30 + r.random() * 5000), None
            elif story < 0.95:
                start = -int(400 + r.random() * 5000)
                status, end = "terminated", start + int(60 + r.random() * (-start - 61))
            elif story < 0.97:
                status, start, end = "pending", int(5 + r.random() * 60), None
            else:
                status, start, end = "none", None, None

            worker_id = self.guid()
            worker = {"cdm_workerid": worker_id, "cdm_workernumber": number, "cdm_firstname": first,
                      "cdm_lastname": last, "cdm_fullname": f"{first} {last}",
                      "cdm_type": 754400000 if r.random() < 0.9 else 754400001 if r.random() < 0.8 else 754400002,
                      "cdm_status": WORKER_STATUS_ACTIVE if status == "active" else WORKER_STATUS_INACTIVE,
                      "cdm_primaryemailaddress":
                          f"{self._ascii_first[first]}.{self._ascii_last[last]}{i}@contoso.com"}
            if r.random() < 0.2:
                worker["cdm_middlename"] = self.pick(FIRST_NAMES)
            if r.random() < 0.9:
                worker["cdm_gender"] = 754400000 + int(r.random() * 4)
            birth = self.date(-int(365 * 19 + r.random() * 365 * 45))
            if r.random() < 0.85:
                worker["cdm_birthdate"] = birth
            if r.random() < 0.7:
                worker["cdm_primarytelephone"] = f"+1 555 {1000 + int(r.random() * 9000)}"
            if r.random() < 0.3:
                worker["cdm_linkedinidentity"] = f"in/{self._ascii_first[first]}-{self._ascii_last[last]}-{i}"
            if status != "none" and (r.random() < 0.97 or number == TEST_EMPLOYEE):
                worker["cdm_profession"] = job["cdm_description"]
            self.add("cdm_worker", worker)

            if status != "none":
                self._employment(worker_id, number, position, status, start, end)
            self._address(worker_id, number)
            self._personal_detail(worker_id, number, worker, birth)
            self._worker_skills(worker_id, number)
            self._worker_certificates(worker_id, number)
            if status == "active" and r.random() < 0.1:
                city = CITIES[int(r.random() * len(CITIES))]
                self.add("bookableresource", {"bookableresourceid": self.guid(), "name": worker["cdm_fullname"],
                                              "resourcetype": 1, "timezone": TIMEZONE_BY_OFFSET[city[4]],
                                              worker_col: worker_id})

    def _employment(self, worker_id: str, number: str, position: dict, status: str, start: int,
                    end: int | None) -> None:
        r = self.rng
        company = self.pick(self.companies)
        if r.random() < 0.05 and start < -800:  # an earlier employment in another company (a rehire)
            prev_start = start - int(200 + r.random() * 1500)
            self.add("cdm_employment", {
                "cdm_employmentid": self.guid(), "cdm_employmentnumber": f"E{number}-1",
                "cdm_workerid": worker_id, "cdm_companyid": self.pick(self.companies)["cdm_companyid"],
                "cdm_workertype": 754400000, "cdm_employmentstartdate": self.dt(prev_start),
                "cdm_employmentenddate": self.dt(start - 30), "cdm_validfrom": self.dt(prev_start),
                "cdm_validto": self.dt(start - 30), "cdm_lastdateworked": self.dt(start - 30)})
        row = {"cdm_employmentid": self.guid(), "cdm_employmentnumber": f"E{number}",
               "cdm_workerid": worker_id, "cdm_companyid": company["cdm_companyid"],
               "cdm_workertype": 754400000 if r.random() < 0.92 else 754400001,
               "cdm_employmentstartdate": self.dt(start), "cdm_validfrom": self.dt(start)}
        if r.random() < 0.4:
            row["cdm_probationenddate"] = self.dt(start + 180)
        if r.random() < 0.6:
            row["cdm_employernoticeamount"] = float(1 + int(r.random() * 3))
            row["cdm_workernoticeamount"] = row["cdm_employernoticeamount"]
        if end is not None:
            row["cdm_employmentenddate"] = row["cdm_validto"] = row["cdm_lastdateworked"] = self.dt(end)
        self.add("cdm_employment", row)
        if status == "pending":
            return
        assignment = {"cdm_positionworkerassignmentmapid": self.guid(), "cdm_name": f"A{number}",
                      "cdm_workerid": worker_id, "cdm_jobpositionid": position["cdm_jobpositionid"],
                      "cdm_validfrom": self.dt(start), "cdm_isprimaryposition": True}
        if end is not None:
            assignment["cdm_validto"] = self.dt(end)
        self.add("cdm_positionworkerassignmentmap", assignment)

    def _address(self, worker_id: str, number: str) -> None:
        r = self.rng
        n = 0 if r.random() < 0.05 else 2 if r.random() < 0.15 else 1
        for k in range(n):
            city, state, postal, country, _ = self.pick(CITIES)
            row = {"cdm_workeraddressid": self.guid(), "cdm_workerid": worker_id,
                   "cdm_addressnumber": f"LOC-{number}-{k + 1}", "cdm_addresstype": 754400000 + k,
                   "cdm_line1": f"{1 + int(r.random() * 250)} {self.pick(STREETS)}", "cdm_city": city,
                   "cdm_postalcode": postal, "cdm_countryregion": country, "cdm_ispreferred": k == 0,
                   "cdm_effectivedate": self.dt(-int(r.random() * 3000))}
            if state:
                row["cdm_stateorprovince"] = state
            if r.random() < 0.5:
                row["cdm_latitude"] = round(-60 + r.random() * 120, 6)
                row["cdm_longitude"] = round(-180 + r.random() * 360, 6)
            self.add("cdm_workeraddress", row)

    def _personal_detail(self, worker_id: str, number: str, worker: dict, birth: str) -> None:
        r = self.rng
        row = {"cdm_workerpersonaldetailid": self.guid(), "cdm_name": number, "cdm_workerid": worker_id,
               "cdm_birthdate": birth, "cdm_numberofdependents": int(r.random() * 4),
               "cdm_isdisabled": r.random() < 0.04, "cdm_isfulltimestudent": r.random() < 0.02}
        if "cdm_gender" in worker:
            row["cdm_gender"] = worker["cdm_gender"]
        if r.random() < 0.8:
            row["cdm_birthcity"] = self.pick(CITIES)[0]
        if r.random() < 0.7:
            row["cdm_maritalstatus"] = 754400000 + int(r.random() * 6)
        if r.random() < 0.9:
            row["cdm_nationalitycountryregion"] = self.pick(NATIONALITIES)
        if r.random() < 0.6:
            row["cdm_education"] = self.pick(EDUCATION)
        self.add("cdm_workerpersonaldetail", row)

    def _worker_skills(self, worker_id: str, number: str) -> None:
        r, p = self.rng, self.p
        chosen = r.sample(self.skills, 3 + int(r.random() * 4))
        targets = [chosen[0]] if r.random() < 0.25 else []
        for (skill, levels), level_type in [(c, LEVEL_TYPE_ACTUAL) for c in chosen] + [
                (c, LEVEL_TYPE_TARGET) for c in targets]:
            # A target sits at the top of the scale; an actual anywhere on it.
            level = levels[-1] if level_type == LEVEL_TYPE_TARGET else self.pick(levels)
            row = {f"{p}hcmworkerskillentityid": self.guid(), f"{p}personnelnumber": number,
                   f"{p}fk_worker_id": worker_id, f"{p}skillid": skill[f"{p}skillid"],
                   f"{p}fk_skill_id": skill[f"{p}hcmskillentityid"], f"{p}ratingid": skill[f"{p}ratingid"],
                   f"{p}levelid": level[f"{p}ratinglevelid"],
                   f"{p}fk_ratinglevel_id": level[f"{p}hcmratinglevelentityid"],
                   f"{p}leveltype": level_type, f"{p}leveldate": self.dt(-int(r.random() * 2500)),
                   f"{p}verified": 200000001 if r.random() < 0.4 else 200000000,
                   f"{p}primaryfield": f"{number}, {skill[f'{p}skillid']}"}
            if r.random() < 0.7:
                row[f"{p}yearsofexperience"] = round(0.5 + r.random() * 20, 1)
            self.add(f"{p}hcmworkerskillentity", row)

    def _worker_certificates(self, worker_id: str, number: str) -> None:
        r, p = self.rng, self.p
        x = r.random()
        n = 0 if x < 0.3 else 1 if x < 0.75 else 2 if x < 0.95 else 3
        for cert in r.sample(self.certtypes, n):
            start = -int(30 + r.random() * 2500)
            row = {f"{p}hcmworkercertificateentityid": self.guid(), f"{p}personnelnumber": number,
                   f"{p}fk_worker_id": worker_id, f"{p}certificatetypeid": cert[f"{p}certificatetype"],
                   f"{p}fk_certificatetype_id": cert[f"{p}hcmcertificatetypeentityid"],
                   f"{p}startdate": self.dt(start),
                   f"{p}primaryfield": f"{number}, {cert[f'{p}certificatetype']}, {self.date(start)}"}
            if r.random() < 0.75:  # the rest never expire; many of these have already expired
                row[f"{p}enddate"] = self.dt(start + 365 * (1 + int(r.random() * 3)))
            if r.random() < 0.2:
                row[f"{p}notes"] = "Renewal reminder sent" if r.random() < 0.5 else "Copy on file"
            self.add(f"{p}hcmworkercertificateentity", row)

    # --- URS rows that exist before any integration runs ----------------------------------------

    def manual_urs(self) -> None:
        resources = [self.add("bookableresource", {"bookableresourceid": self.guid(), "name": name,
                                                   "resourcetype": rtype, "timezone": 85})
                     for name, rtype in [("Forklift FL-02", 4), ("Warehouse Bay 3", 7), ("Meeting room Oslo", 7),
                                         ("Night shift crew", 6), ("Contractor pool", 8)]]
        characteristic = self.add("characteristic", {"characteristicid": self.guid(), "name": "Hazmat handling",
                                                     "characteristictype": 2,
                                                     "description": "Entered by hand in Field Service"})
        self.add("characteristic", {"characteristicid": self.guid(), "name": "Customer service",
                                    "characteristictype": 1})
        model = self.add("ratingmodel", {"ratingmodelid": self.guid(), "name": "Manual proficiency",
                                         "minratingvalue": 1, "maxratingvalue": 10})
        value = self.add("ratingvalue", {"ratingvalueid": self.guid(), "name": "Qualified", "value": 10,
                                         "ratingmodel": model["ratingmodelid"]})
        self.add("ratingvalue", {"ratingvalueid": self.guid(), "name": "In training", "value": 1,
                                 "ratingmodel": model["ratingmodelid"]})
        self.add("bookableresourcecharacteristic", {
            "bookableresourcecharacteristicid": self.guid(), "name": "Night shift crew - Hazmat handling",
            "resource": resources[3]["bookableresourceid"], "characteristic": characteristic["characteristicid"],
            "ratingvalue": value["ratingvalueid"]})


def generate(config: EmulatorConfig, schema: dict[str, TableDef], clock: Clock) -> dict[str, list[dict]]:
    """Rows per table logical name (every HR and URS table present, possibly empty)."""
    gen = _Generator(config, schema, clock)
    gen.reference_data()
    gen.workers()
    gen.manual_urs()
    generate_coverage(gen)  # compensation, benefits, leave (own RNG: the rows above stay the same)
    for table in config.empty_tables:  # exists, but its dual-write map is off
        gen.out[table] = []
    apply_data_defects(gen.out, config, schema)
    return gen.out
