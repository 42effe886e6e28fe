"""Seeded compensation, benefits and leave rows, consistent with the generated workers.

Runs after the main generator on its own RNG (so the 16 original tables keep exactly their rows for
a given seed). Set-up rows per company (pay frequencies, grids, levels, structures, plans, events,
leave types and plans) plus company-independent benefit set-up; per employed worker about four
rows: a fixed compensation line (a fifth of them with an earlier, expired line), a leave enrollment
per leave plan of their company (vacation always, sick leave for most), an accrual per enrollment,
and for about a third a leave request with one to three day lines and their bank transactions.
Every lookup points at a row of the right company: a worker's plan, pay frequency, level, leave
plan and leave type belong to the company of their (latest) employment.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from .schema_coverage import (
    LEAVE_STATUS_COMPLETED,
    TRANSACTION_ACCRUAL,
    TRANSACTION_REQUEST,
)

PAY_FREQUENCIES = [("ANNUAL", "Annual", 754400000, 1.0), ("MONTHLY", "Monthly", 754400001, 12.0),
                   ("BIWEEKLY", "Biweekly", 754400003, 26.0), ("HOURLY", "Hourly", 754400005, 2080.0)]
GRIDS = [("GRID-STD", "Standard grid"), ("GRID-EXEC", "Executive grid")]
LEVELS = ["L1", "L2", "L3", "L4", "L5"]
FIXED_PLANS = [("SALARY", "Salaried employees", 754400001, "ANNUAL"), ("HOURLY", "Hourly employees", 754400003,
                                                                       "HOURLY"),
               ("EXEC", "Executive pay", 754400002, "ANNUAL")]
EVENTS = [("HIRE", "New hire", 754400000), ("PROMOTE", "Promotion", 754400001), ("MERIT", "Merit increase", 754400003),
          ("ADJUST", "Market adjustment", 754400004)]
VARIABLE_TYPES = [("BONUS", "Cash bonus", 754400000), ("LUMPSUM", "Lump-sum award", 754400001)]
VARIABLE_PLANS = [("BONUS-ANNUAL", "Annual bonus", "BONUS", 754400000), ("SPOT", "Spot award", "LUMPSUM", 754400001)]
BENEFIT_TYPES = [("MEDICAL", "Medical insurance", 754400000), ("DENTAL", "Dental insurance", 754400000),
                 ("VISION", "Vision insurance", 754400000), ("RETIRE", "Retirement savings", 754400001),
                 ("LIFE", "Life insurance", 754400002)]
BENEFIT_PLANS = [("MED-PPO", "Medical PPO", "MEDICAL"), ("MED-HMO", "Medical HMO", "MEDICAL"),
                 ("DEN-BASIC", "Dental basic", "DENTAL"), ("DEN-PLUS", "Dental plus", "DENTAL"),
                 ("VIS-STD", "Vision standard", "VISION"), ("401K", "401(k) savings", "RETIRE"),
                 ("ROTH401K", "Roth 401(k)", "RETIRE"), ("LIFE-2X", "Life insurance 2x salary", "LIFE")]
BENEFIT_OPTIONS = [("EE", "Employee only", False, False), ("EE+SP", "Employee and spouse", False, True),
                   ("FAMILY", "Family", True, True), ("WAIVE", "Waive coverage", False, False)]
CALCULATION_RATES = [("MED-RATE", "Medical rates", 754400001), ("DEN-RATE", "Dental rates", 754400001),
                     ("RET-MATCH", "Retirement match", 754400000)]
LEAVE_TYPES = [("VAC", "Vacation"), ("SICK", "Sick leave"), ("PERS", "Personal leave"), ("PARENT", "Parental leave")]
LEAVE_PLANS = [("VACATION", "Annual vacation", "VAC", 754400002), ("SICK", "Sick leave", "SICK", 754400002),
               ("PERSONAL", "Personal days", "PERS", 754400004)]
EARNING_CODES = [("REG", "Regular pay"), ("OT", "Overtime"), ("VAC", "Vacation pay"), ("SICK", "Sick pay")]
REASON_CODES = [("PERSONAL", "Personal reasons"), ("MEDICAL", "Medical"), ("FAMILY", "Family matters"),
                ("RELOCATE", "Relocation")]


class CoverageGenerator:
    """Adds rows to ``out`` (table -> rows) using the main generator's helpers (guid, add, dates)."""

    def __init__(self, gen: Any) -> None:
        self.gen = gen
        self.rng = random.Random(gen.config.seed * 7919 + 15)
        self.out = gen.out

    def guid(self) -> str:
        n = self.rng.getrandbits(128)
        n = (n & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def add(self, table: str, row: dict) -> dict:
        if table in self.out:  # a tenant without the coverage tables generates nothing here
            self.gen.add(table, row)
        return row

    def run(self) -> None:
        if "cdm_workerfixedcompensation" not in self.out:
            return
        self.per_company = {c["cdm_companyid"]: self.company_setup(c) for c in self.gen.companies}
        self.benefits()
        self.workers()

    # --- set-up --------------------------------------------------------------------------------

    def company_setup(self, company: dict) -> dict[str, Any]:
        cid, code = company["cdm_companyid"], company["cdm_companycode"]
        g, r = self.gen, self.rng
        setup: dict[str, Any] = {"company": company}
        setup["frequency"] = {key: self.add("cdm_compensationpayfrequency", {
            "cdm_compensationpayfrequencyid": self.guid(), "cdm_name": key, "cdm_description": label,
            "cdm_period": period, "cdm_annualconversionfactor": factor, "cdm_companyid": cid})
            for key, label, period, factor in PAY_FREQUENCIES}
        grids = [self.add("cdm_compensationgrid", {"cdm_compensationgridid": self.guid(), "cdm_name": key,
                                                   "cdm_description": label, "cdm_companyid": cid})
                 for key, label in GRIDS]
        setup["levels"] = [self.add("cdm_compensationlevel", {
            "cdm_compensationlevelid": self.guid(), "cdm_name": key, "cdm_description": f"Level {i + 1}",
            "cdm_sequence": i + 1, "cdm_companyid": cid}) for i, key in enumerate(LEVELS)]
        for grid in grids:
            base = 40000 if grid["cdm_name"] == "GRID-STD" else 120000
            for i, level in enumerate(setup["levels"]):
                self.add("cdm_compensationstructure", {
                    "cdm_compensationstructureid": self.guid(),
                    "cdm_compensationstructurenumber": f"{code}-{grid['cdm_name']}-{level['cdm_name']}",
                    "cdm_compensationgridid": grid["cdm_compensationgridid"],
                    "cdm_compensationlevelid": level["cdm_compensationlevelid"],
                    "cdm_amount": float(base + i * base // 5), "cdm_companyid": cid})
        setup["plans"] = []
        for key, label, ctype, frequency in FIXED_PLANS:
            row = {"cdm_compensationfixedplanid": self.guid(), "cdm_name": key, "cdm_description": label,
                   "cdm_type": ctype, "cdm_hirerule": 754400000 + int(r.random() * 3),
                   "cdm_outofrangetolerance": 754400001, "cdm_effectivedate": g.date(-3650),
                   "cdm_recommendationallowed": r.random() < 0.7,
                   "cdm_payfrequency": setup["frequency"][frequency]["cdm_compensationpayfrequencyid"],
                   "cdm_compensationgrid": grids[key == "EXEC"]["cdm_compensationgridid"], "cdm_companyid": cid}
            setup["plans"].append((self.add("cdm_compensationfixedplan", row), frequency))
        types = {key: self.add("cdm_compensationvariableplantype", {
            "cdm_compensationvariableplantypeid": self.guid(), "cdm_name": key, "cdm_description": label,
            "cdm_awardtype": award, "cdm_companyid": cid}) for key, label, award in VARIABLE_TYPES}
        for key, label, type_key, basis in VARIABLE_PLANS:
            self.add("cdm_compensationvariableplan", {
                "cdm_compensationvariableplanid": self.guid(), "cdm_name": key, "cdm_description": label,
                "cdm_awardbasis": basis, "cdm_enableenrollment": True, "cdm_percentofbasis": 10.0,
                "cdm_effectivedate": g.date(-1800),
                "cdm_variablecompensationtypeid": types[type_key]["cdm_compensationvariableplantypeid"],
                "cdm_companyid": cid})
        setup["events"] = [self.add("cdm_fixedcompensationevent", {
            "cdm_fixedcompensationeventid": self.guid(), "cdm_name": key, "cdm_description": label,
            "cdm_eventtype": etype, "cdm_isactive": True, "cdm_companyid": cid}) for key, label, etype in EVENTS]
        leave_types = {key: self.add("cdm_leavetype", {"cdm_leavetypeid": self.guid(), "cdm_type": key,
                                                       "cdm_description": label, "cdm_companyid": cid})
                       for key, label in LEAVE_TYPES}
        setup["leave"] = [(self.add("cdm_leaveplan", {
            "cdm_leaveplanid": self.guid(), "cdm_name": key, "cdm_description": label, "cdm_startdate": g.date(-3000),
            "cdm_accrualfrequency": frequency, "cdm_leavetypeid": leave_types[type_key]["cdm_leavetypeid"],
            "cdm_companyid": cid}), leave_types[type_key]) for key, label, type_key, frequency in LEAVE_PLANS]
        for key, label in EARNING_CODES:
            self.add("cdm_payrollearningcode", {"cdm_payrollearningcodeid": self.guid(), "cdm_name": key,
                                                "cdm_description": label, "cdm_companyid": cid})
        return setup

    def benefits(self) -> None:
        g = self.gen
        types = {key: self.add("cdm_benefittype", {
            "cdm_benefittypeid": self.guid(), "cdm_name": key, "cdm_description": label,
            "cdm_concurrentenrollment": 754400000, "cdm_payrollcategory": category})
            for key, label, category in BENEFIT_TYPES}
        for i, (key, label, type_key) in enumerate(BENEFIT_PLANS):
            row = {"cdm_benefitplanid": self.guid(), "cdm_name": key, "cdm_description": label,
                   "cdm_benefittypeid": types[type_key]["cdm_benefittypeid"], "cdm_deductionpriority": 10 + i,
                   "cdm_isprimary": i % 2 == 0, "cdm_isgrossup": False, "cdm_payrollimpact": 754400003}
            if type_key == "RETIRE":
                row["cdm_retirementtype"] = 754400001 if key == "401K" else 754400002
            self.add("cdm_benefitplan", row)
        for key, label, beneficiaries, dependents in BENEFIT_OPTIONS:
            self.add("cdm_benefitoption", {"cdm_benefitoptionid": self.guid(), "cdm_name": key,
                                           "cdm_description": label, "cdm_allowbeneficiarydesignations": beneficiaries,
                                           "cdm_allowdependentcoverage": dependents, "cdm_iswaived": key == "WAIVE"})
        for key, label, tier in CALCULATION_RATES:
            rate = self.add("cdm_benefitcalculationrate", {"cdm_benefitcalculationrateid": self.guid(),
                                                            "cdm_name": key, "cdm_description": label,
                                                            "cdm_tiertype": tier})
            for k, (start, end) in enumerate([(-1095, -366), (-365, None)]):
                detail = {"cdm_benefitcalculationratedetailid": self.guid(),
                          "cdm_benefitcalculationratedetailnumber": f"{key}-{k + 1}",
                          "cdm_calculationrateid": rate["cdm_benefitcalculationrateid"],
                          "cdm_contributionmethod": 754400001 if key == "RET-MATCH" else 754400000,
                          "cdm_effective": g.date(start), "cdm_employercontribution": 120.0 + 15 * k,
                          "cdm_workerdeduction": 45.5 + 5 * k}
                if end is not None:
                    detail["cdm_expiration"] = g.date(end)
                self.add("cdm_benefitcalculationratedetail", detail)
        for key, label in REASON_CODES:
            self.add("cdm_reasoncode", {"cdm_reasoncodeid": self.guid(), "cdm_name": key, "cdm_description": label})

    # --- per worker ----------------------------------------------------------------------------

    def workers(self) -> None:
        latest: dict[str, dict] = {}
        for employment in self.out["cdm_employment"]:
            seen = latest.get(employment["cdm_workerid"])
            if seen is None or employment["cdm_validfrom"] > seen["cdm_validfrom"]:
                latest[employment["cdm_workerid"]] = employment
        positions = {a["cdm_workerid"]: a["cdm_jobpositionid"] for a in self.out["cdm_positionworkerassignmentmap"]}
        numbers = {w["cdm_workerid"]: w["cdm_workernumber"] for w in self.out["cdm_worker"]}
        for worker_id, employment in latest.items():
            self.worker(worker_id, numbers[worker_id], employment, positions.get(worker_id))

    def worker(self, worker_id: str, number: str, employment: dict, position: str | None) -> None:
        g, r = self.gen, self.rng
        setup = self.per_company[employment["cdm_companyid"]]
        cid = employment["cdm_companyid"]
        start = date.fromisoformat(employment["cdm_validfrom"][:10])
        start_offset = (start - g.today).days
        end = employment.get("cdm_validto")
        plan, frequency = setup["plans"][0 if r.random() < 0.7 else 1 if r.random() < 0.85 else 2]
        level = setup["levels"][int(r.random() * len(LEVELS))]
        hourly = frequency == "HOURLY"
        rate = round(18 + r.random() * 40, 2) if hourly else float(int(38000 + r.random() * 110000))
        lines = [(start_offset, setup["events"][0])]
        end_offset = (date.fromisoformat(end[:10]) - g.today).days if end is not None else 0
        raise_offset = start_offset + 365 + int(r.random() * 300)
        if start_offset < -400 and r.random() < 0.2 and raise_offset < end_offset:
            lines.append((raise_offset, setup["events"][2]))  # a raise: the first line expired the day before
        for k, (effective, event) in enumerate(lines):
            row = {"cdm_workerfixedcompensationid": self.guid(),
                   "cdm_workerfixedcompensationnumber": f"FC-{number}-{k + 1}", "cdm_workerid": worker_id,
                   "cdm_planid": plan["cdm_compensationfixedplanid"], "cdm_eventid": event["cdm_fixedcompensationeventid"],
                   "cdm_payfrequencyid": setup["frequency"][frequency]["cdm_compensationpayfrequencyid"],
                   "cdm_compensationlevelid": level["cdm_compensationlevelid"], "cdm_companyid": cid,
                   "cdm_effectivedate": g.date(effective), "cdm_payrate": rate * (1 + 0.04 * k),
                   "cdm_linenumber": float(k + 1), "cdm_compensationtype": plan["cdm_type"],
                   "cdm_processtype": 754400001 if k == 0 else 754400003}
            if position is not None:
                row["cdm_positionid"] = position
            if k + 1 < len(lines):
                row["cdm_expirationdate"] = g.date(lines[k + 1][0] - 1)
            elif end is not None:
                row["cdm_expirationdate"] = end[:10]
            self.add("cdm_workerfixedcompensation", row)
        plans = setup["leave"][:1] + [p for p in setup["leave"][1:] if r.random() < (0.8 if p[1]["cdm_type"] == "SICK"
                                                                                      else 0.2)]
        transaction = 0
        for k, (leave_plan, leave_type) in enumerate(plans):
            enrollment = {"cdm_leaveenrollmentid": self.guid(), "cdm_leaveenrollmentnumber": f"LE-{number}-{k + 1}",
                          "cdm_workerid": worker_id, "cdm_leaveplanid": leave_plan["cdm_leaveplanid"],
                          "cdm_companyid": cid, "cdm_startdate": g.date(start_offset),
                          "cdm_accrualstartdate": g.date(start_offset), "cdm_isaccrualsuspended": r.random() < 0.03,
                          "cdm_tierbasis": 754400000}
            if end is not None:
                enrollment["cdm_enddate"] = end[:10]
            self.add("cdm_leaveenrollment", enrollment)
            transaction += 1
            self.add("cdm_leavebanktransaction", {
                "cdm_leavebanktransactionid": self.guid(), "cdm_leavebanktransactionnumber": f"LB-{number}-{transaction}",
                "cdm_transactiondate": g.date(max(start_offset, -30)), "cdm_transactionnumber": float(transaction),
                "cdm_transactiontype": TRANSACTION_ACCRUAL, "cdm_amount": round(8 + r.random() * 20, 2),
                "cdm_workerid": worker_id, "cdm_leavetypeid": leave_type["cdm_leavetypeid"],
                "cdm_leaveplanid": leave_plan["cdm_leaveplanid"], "cdm_companyid": cid})
        if end is not None or r.random() > 0.33:
            return
        leave_plan, leave_type = plans[int(r.random() * len(plans))]
        first = int(r.random() * 120) - 60  # requests in the past two months and the next two
        request = {"cdm_leaverequestid": self.guid(), "cdm_leaverequestnumber": f"LR-{number}",
                   "cdm_requestdate": g.dt(first - 14), "cdm_workerid": worker_id, "cdm_companyid": cid,
                   "cdm_status": LEAVE_STATUS_COMPLETED if first < 0 else 754400000 + int(r.random() * 2)}
        if r.random() < 0.3:
            request["cdm_comment"] = "Family visit" if r.random() < 0.5 else "Doctor's appointment"
        self.add("cdm_leaverequest", request)
        for day in range(1 + int(r.random() * 3)):
            self.add("cdm_leaverequestdetail", {
                "cdm_leaverequestdetailid": self.guid(), "cdm_leaverequestdetailnumber": f"LR-{number}-{day + 1}",
                "cdm_leaverequestid": request["cdm_leaverequestid"], "cdm_leavetypeid": leave_type["cdm_leavetypeid"],
                "cdm_leavedate": g.date(first + day), "cdm_amount": 8.0 if r.random() < 0.85 else 4.0})
        transaction += 1
        self.add("cdm_leavebanktransaction", {
            "cdm_leavebanktransactionid": self.guid(), "cdm_leavebanktransactionnumber": f"LB-{number}-{transaction}",
            "cdm_transactiondate": g.date(first), "cdm_transactionnumber": float(transaction),
            "cdm_transactiontype": TRANSACTION_REQUEST, "cdm_amount": -8.0,
            "cdm_workerid": worker_id, "cdm_leavetypeid": leave_type["cdm_leavetypeid"],
            "cdm_leaveplanid": leave_plan["cdm_leaveplanid"], "cdm_companyid": cid})


def generate_coverage(gen: Any) -> None:
    CoverageGenerator(gen).run()

