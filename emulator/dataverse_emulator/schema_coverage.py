"""Compensation, benefits and leave-and-absence tables (HCM Common ``cdm_``), beyond the 16 synced ones.

Facts from shared/reference/hr-coverage.md §2-3 and hr-urs-data-model.md §1.10. Set names are the
logical name + ``s`` and primary keys ``<name>id`` [I there]. Tables whose primary-name column no
source names ("<Table> Number" in R2) use ``<name>number`` [U]. Choice values use the cdm_ 754400000
prefix; their labels are not published [U] and follow the F&O enum labels the reference quotes
where it quotes any. Lookups to tables the emulator does not hold (currency, reference point setup
lines, vesting rules, earning codes) are left out rather than pointing nowhere.
"""

from __future__ import annotations

from .config import EmulatorConfig
from .schema import (
    DECIMAL,
    MONEY,
    AttributeDef,
    TableDef,
    _bool,
    _date,
    _dec,
    _dt,
    _int,
    _lookup,
    _memo,
    _pick,
    _s,
    _table,
)


def _opts(*labels: str) -> dict[int, str]:
    return {754400000 + i: label for i, label in enumerate(labels)}


COMPENSATION_TYPE = _opts("None", "Grade", "Band", "Step")  # F&O HcmCompensationType [C R18]; values [U]
PROCESS_TYPE = _opts("None", "Annual", "Anniversary", "Non-cyclical", "Half-yearly", "Quarterly", "Monthly")  # [I R7]
HIRE_RULE = _opts("None", "Minimum", "Reference point")  # [U]
OUT_OF_RANGE = _opts("None", "Warning", "Error")  # [U]
PAY_PERIOD = _opts("Annual", "Monthly", "Semi-monthly", "Biweekly", "Weekly", "Hourly")  # [U]
EVENT_TYPE = _opts("Hire", "Promotion", "Transfer", "Merit", "Adjustment")  # [U]
AWARD_TYPE = _opts("General award", "Lump-sum fixed pay")  # [C R7 for the virtual table]
AWARD_BASIS = _opts("Fixed pay", "Amount", "Units")  # [U]
CONCURRENT = _opts("Not allowed", "Allowed")  # [U]
PAYROLL_CATEGORY = _opts("Health", "Retirement", "Insurance", "Other")  # [U]
RETIREMENT_TYPE = _opts("None", "401(k)", "Roth 401(k)", "403(b)")  # [U]
PAYROLL_IMPACT = _opts("None", "Deduction", "Contribution", "Both")  # [U]
TIER_TYPE = _opts("None", "Employee", "Employee and spouse", "Family")  # [U]
CONTRIBUTION_METHOD = _opts("Fixed amount", "Percent of gross", "Per hour")  # [U]
ACCRUAL_FREQUENCY = _opts("Daily", "Weekly", "Monthly", "Quarterly", "Annually")  # [U]
TIER_BASIS = _opts("Service period", "Hours worked")  # [U]
# 754400000/1/2 carry F&O LeaveRequestApprovalStatus 0/2/9 (R20, third party) = Draft, InReview, Completed [I].
LEAVE_STATUS = _opts("Draft", "In review", "Completed")
LEAVE_STATUS_COMPLETED = 754400002
TRANSACTION_TYPE = _opts("Accrual", "Request", "Balance adjustment", "Grant", "Carry forward", "Expiration")  # [C R18]
TRANSACTION_ACCRUAL, TRANSACTION_REQUEST = 754400000, 754400001

COMPENSATION_TABLES = (
    "cdm_compensationpayfrequency", "cdm_compensationgrid", "cdm_compensationlevel", "cdm_compensationstructure",
    "cdm_compensationfixedplan", "cdm_compensationvariableplantype", "cdm_compensationvariableplan",
    "cdm_fixedcompensationevent", "cdm_workerfixedcompensation",
)
BENEFIT_TABLES = ("cdm_benefittype", "cdm_benefitplan", "cdm_benefitoption", "cdm_benefitcalculationrate",
                  "cdm_benefitcalculationratedetail")
LEAVE_TABLES = ("cdm_leavetype", "cdm_leaveplan", "cdm_leaveenrollment", "cdm_leaverequest", "cdm_leaverequestdetail",
                "cdm_leavebanktransaction")
# Present in the environment but in no catalog category: what the "new HR tables" report finds.
UNCATALOGUED_TABLES = ("cdm_payrollearningcode", "cdm_reasoncode")
COVERAGE_TABLES = COMPENSATION_TABLES + BENEFIT_TABLES + LEAVE_TABLES + UNCATALOGUED_TABLES


def _money(name: str, **kw) -> AttributeDef:
    return AttributeDef(name, MONEY, precision=2, min_value=-922337203685477, max_value=922337203685477, **kw)


def coverage_tables(config: EmulatorConfig) -> list[TableDef]:
    """The tables in load order (parents first); alternate keys mirror the dual-write integration keys [C R3]."""
    t = lambda *a, **kw: _table(*a, config=config, **kw)  # noqa: E731
    company = _lookup("cdm_companyid", "cdm_company", "cdm_CompanyId")
    company_req = _lookup("cdm_companyid", "cdm_company", "cdm_CompanyId", required=True)
    worker = _lookup("cdm_workerid", "cdm_worker", "cdm_WorkerId", required=True)
    name = _s("cdm_name", required=True)
    desc = _s("cdm_description", max_length=250)
    by_company = (("cdm_name", "cdm_companyid"),)
    return [
        # --- compensation ------------------------------------------------------------------
        t("cdm_compensationpayfrequency", "cdm_compensationpayfrequencies", "cdm_name", [
            name, desc, _pick("cdm_period", PAY_PERIOD, required=True),
            _dec("cdm_annualconversionfactor", precision=4), company,
        ], otc=10200, display_name="Compensation Pay Frequency", alternate_keys=by_company),
        t("cdm_compensationgrid", "cdm_compensationgrids", "cdm_name", [name, desc, company],
          otc=10201, display_name="Compensation Grid", alternate_keys=by_company),
        t("cdm_compensationlevel", "cdm_compensationlevels", "cdm_name", [
            name, desc, _int("cdm_sequence", 0, 999), company,
        ], otc=10202, display_name="Compensation Level", alternate_keys=by_company),
        t("cdm_compensationstructure", "cdm_compensationstructures", "cdm_compensationstructurenumber", [
            _s("cdm_compensationstructurenumber", required=True),  # primary name [U]
            _lookup("cdm_compensationgridid", "cdm_compensationgrid", "cdm_CompensationGridId", required=True),
            _lookup("cdm_compensationlevelid", "cdm_compensationlevel", "cdm_CompensationLevelId", required=True),
            _money("cdm_amount"), company,
        ], otc=10203, display_name="Compensation Structure"),
        t("cdm_compensationfixedplan", "cdm_compensationfixedplans", "cdm_name", [
            name, desc,
            _pick("cdm_type", COMPENSATION_TYPE, required=True),
            _pick("cdm_hirerule", HIRE_RULE), _pick("cdm_outofrangetolerance", OUT_OF_RANGE),
            _date("cdm_effectivedate", required=True), _date("cdm_expirationdate"),
            _bool("cdm_recommendationallowed"),
            _lookup("cdm_payfrequency", "cdm_compensationpayfrequency", "cdm_PayFrequency"),  # no "id" suffix [C R3]
            _lookup("cdm_compensationgrid", "cdm_compensationgrid", "cdm_CompensationGrid"),
            company,
        ], otc=10204, display_name="Compensation Fixed Plan", alternate_keys=by_company),
        t("cdm_compensationvariableplantype", "cdm_compensationvariableplantypes", "cdm_name", [
            name, desc, _pick("cdm_awardtype", AWARD_TYPE), company,
        ], otc=10205, display_name="Compensation Variable Plan Type", alternate_keys=by_company),
        t("cdm_compensationvariableplan", "cdm_compensationvariableplans", "cdm_name", [
            name, desc, _pick("cdm_awardbasis", AWARD_BASIS), _bool("cdm_enableenrollment"),
            _dec("cdm_percentofbasis"), _date("cdm_effectivedate", required=True), _date("cdm_expirationdate"),
            _lookup("cdm_variablecompensationtypeid", "cdm_compensationvariableplantype",
                    "cdm_VariableCompensationTypeId"),
            company,
        ], otc=10206, display_name="Compensation Variable Plan", alternate_keys=by_company),
        t("cdm_fixedcompensationevent", "cdm_fixedcompensationevents", "cdm_name", [
            name, desc, _pick("cdm_eventtype", EVENT_TYPE), _bool("cdm_isactive"), company,
        ], otc=10207, display_name="Fixed Compensation Event", alternate_keys=by_company),
        t("cdm_workerfixedcompensation", "cdm_workerfixedcompensations", "cdm_workerfixedcompensationnumber", [
            _s("cdm_workerfixedcompensationnumber", required=True),  # primary name [U]
            worker,
            _lookup("cdm_planid", "cdm_compensationfixedplan", "cdm_PlanId", required=True),
            _lookup("cdm_positionid", "cdm_jobposition", "cdm_PositionId"),
            _lookup("cdm_eventid", "cdm_fixedcompensationevent", "cdm_EventId"),
            _lookup("cdm_payfrequencyid", "cdm_compensationpayfrequency", "cdm_PayFrequencyId"),
            _lookup("cdm_compensationlevelid", "cdm_compensationlevel", "cdm_CompensationLevelId"),
            company_req,
            _date("cdm_effectivedate", required=True), _date("cdm_expirationdate"),
            _money("cdm_payrate"), AttributeDef("cdm_linenumber", DECIMAL, precision=0, min_value=0, max_value=1e9),
            _pick("cdm_compensationtype", COMPENSATION_TYPE), _pick("cdm_processtype", PROCESS_TYPE, required=True),
        ], otc=10208, display_name="Worker Fixed Compensation",
            alternate_keys=(("cdm_linenumber", "cdm_effectivedate", "cdm_companyid", "cdm_positionid", "cdm_workerid",
                             "cdm_eventid", "cdm_planid"),)),
        # --- benefits (payroll deduction and contribution set-up) ---------------------------
        t("cdm_benefittype", "cdm_benefittypes", "cdm_name", [
            name, desc, _pick("cdm_concurrentenrollment", CONCURRENT), _pick("cdm_payrollcategory", PAYROLL_CATEGORY),
        ], otc=10220, display_name="Benefit Type", alternate_keys=(("cdm_name",),)),
        t("cdm_benefitplan", "cdm_benefitplans", "cdm_name", [  # logical names past name/description [U]
            name, desc,
            _lookup("cdm_benefittypeid", "cdm_benefittype", "cdm_BenefitTypeId", required=True),
            _int("cdm_deductionpriority", 0, 999), _bool("cdm_isprimary"), _bool("cdm_isgrossup"),
            _pick("cdm_retirementtype", RETIREMENT_TYPE), _pick("cdm_payrollimpact", PAYROLL_IMPACT),
        ], otc=10221, display_name="Benefit Plan", alternate_keys=(("cdm_name",),)),
        t("cdm_benefitoption", "cdm_benefitoptions", "cdm_name", [
            name, desc, _bool("cdm_allowbeneficiarydesignations"), _bool("cdm_allowdependentcoverage"),
            _bool("cdm_iswaived"),
        ], otc=10222, display_name="Benefit Option", alternate_keys=(("cdm_name",),)),
        t("cdm_benefitcalculationrate", "cdm_benefitcalculationrates", "cdm_name", [
            name, desc, _pick("cdm_tiertype", TIER_TYPE),
        ], otc=10223, display_name="Benefit Calculation Rate", alternate_keys=(("cdm_name",),)),
        t("cdm_benefitcalculationratedetail", "cdm_benefitcalculationratedetails",
          "cdm_benefitcalculationratedetailnumber", [
            _s("cdm_benefitcalculationratedetailnumber", required=True),  # primary name [U]
            _lookup("cdm_calculationrateid", "cdm_benefitcalculationrate", "cdm_CalculationRateId", required=True),
            _pick("cdm_contributionmethod", CONTRIBUTION_METHOD),
            _date("cdm_effective", required=True), _date("cdm_expiration"),
            _dec("cdm_employercontribution"), _dec("cdm_workerdeduction"),
        ], otc=10224, display_name="Benefit Calculation Rate Detail"),
        # --- leave and absence ------------------------------------------------------------
        t("cdm_leavetype", "cdm_leavetypes", "cdm_type", [
            _s("cdm_type", max_length=20, required=True), desc, company_req,
        ], otc=10240, display_name="Leave Type", alternate_keys=(("cdm_type", "cdm_companyid"),)),
        t("cdm_leaveplan", "cdm_leaveplans", "cdm_name", [
            name, desc, _date("cdm_startdate"), _pick("cdm_accrualfrequency", ACCRUAL_FREQUENCY, required=True),
            _lookup("cdm_leavetypeid", "cdm_leavetype", "cdm_LeaveTypeId"), company_req,
        ], otc=10241, display_name="Leave Plan", alternate_keys=by_company),
        t("cdm_leaveenrollment", "cdm_leaveenrollments", "cdm_leaveenrollmentnumber", [
            _s("cdm_leaveenrollmentnumber", required=True),  # primary name [U]
            worker,
            _lookup("cdm_leaveplanid", "cdm_leaveplan", "cdm_LeavePlanId", required=True),
            company_req,
            _date("cdm_startdate", required=True), _date("cdm_enddate"), _date("cdm_accrualstartdate"),
            _bool("cdm_isaccrualsuspended"), _pick("cdm_tierbasis", TIER_BASIS, required=True),
        ], otc=10242, display_name="Leave Enrollment",
            alternate_keys=(("cdm_startdate", "cdm_leaveplanid", "cdm_companyid", "cdm_workerid"),)),
        t("cdm_leaverequest", "cdm_leaverequests", "cdm_leaverequestnumber", [
            _s("cdm_leaverequestnumber", required=True), _dt("cdm_requestdate"),
            _pick("cdm_status", LEAVE_STATUS, required=True), _memo("cdm_comment", max_length=1000),
            worker, company_req,
        ], otc=10243, display_name="Leave Request",
            alternate_keys=(("cdm_leaverequestnumber", "cdm_companyid"),)),
        t("cdm_leaverequestdetail", "cdm_leaverequestdetails", "cdm_leaverequestdetailnumber", [
            _s("cdm_leaverequestdetailnumber", required=True),  # primary name [U]
            _lookup("cdm_leaverequestid", "cdm_leaverequest", "cdm_LeaveRequestId", required=True),
            _lookup("cdm_leavetypeid", "cdm_leavetype", "cdm_LeaveTypeId", required=True),
            _date("cdm_leavedate", required=True), _dec("cdm_amount"),
        ], otc=10244, display_name="Leave Request Detail"),
        t("cdm_leavebanktransaction", "cdm_leavebanktransactions", "cdm_leavebanktransactionnumber", [
            _s("cdm_leavebanktransactionnumber", required=True),  # primary name [U]
            _date("cdm_transactiondate", required=True),
            AttributeDef("cdm_transactionnumber", DECIMAL, precision=0, min_value=0, max_value=1e9),
            _pick("cdm_transactiontype", TRANSACTION_TYPE, required=True), _dec("cdm_amount"),
            worker,
            _lookup("cdm_leavetypeid", "cdm_leavetype", "cdm_LeaveTypeId"),
            _lookup("cdm_leaveplanid", "cdm_leaveplan", "cdm_LeavePlanId"),
            company,
        ], otc=10245, display_name="Leave Bank Transaction"),
        # --- in the environment, not in the catalog ------------------------------------------
        t("cdm_payrollearningcode", "cdm_payrollearningcodes", "cdm_name", [name, desc, company],
          otc=10260, display_name="Payroll Earning Code", alternate_keys=by_company),
        t("cdm_reasoncode", "cdm_reasoncodes", "cdm_name", [name, desc],
          otc=10261, display_name="Reason Code", alternate_keys=(("cdm_name",),)),
    ]
