"""Build the demo catalog of the fictional city of 青岚市 (Qinglan).

Run ``python -m deployments.demo.build_catalog`` to rewrite ``catalog.yaml`` and
``catalog.xlsx`` next to this file. The city has 12 counties in the three county
categories and 30 departments in the five department categories; its 2025 and 2026
items and indicators cover every direction and every lifecycle (merged, adapted,
simplified) so each figure of the rulebook's section 10 has something to count.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from models.catalog.schema import Catalog, IndicatorRow, ItemRow, Milestone, UnitRow, YearRow
from models.rules import YearRules
from tasks.files.catalog_write import write_xlsx, write_yaml

HERE = Path(__file__).parent
DEMO_RECEIVER = "json://127.0.0.1:8790/units"

COUNTIES = [
    # code, name, category
    ("C01", "青岚区", "key_development"),
    ("C02", "临江区", "key_development"),
    ("C03", "东岭县", "key_development"),
    ("C04", "西原县", "key_development"),
    ("C05", "南川县", "key_development"),
    ("C06", "北坪县", "development_potential"),
    ("C07", "石门县", "development_potential"),
    ("C08", "白沙县", "development_potential"),
    ("C09", "清溪县", "development_potential"),
    ("C10", "云岭县", "ecological_protection"),
    ("C11", "松源县", "ecological_protection"),
    ("C12", "雾峰县", "ecological_protection"),
]
DEPARTMENTS = [
    ("D01", "市委办公室", "party_mass"),
    ("D02", "市委组织部", "party_mass"),
    ("D03", "市委宣传部", "party_mass"),
    ("D04", "市委统战部", "party_mass"),
    ("D05", "市委政法委", "party_mass"),
    ("D06", "市总工会", "party_mass"),
    ("D07", "团市委", "party_mass"),
    ("D08", "市发展和改革委员会", "government"),
    ("D09", "市财政局", "government"),
    ("D10", "市生态环境局", "government"),
    ("D11", "市住房和城乡建设局", "government"),
    ("D12", "市交通运输局", "government"),
    ("D13", "市农业农村局", "government"),
    ("D14", "市商务局", "government"),
    ("D15", "市教育局", "government"),
    ("D16", "市卫生健康委员会", "government"),
    ("D17", "市应急管理局", "government"),
    ("D18", "市市场监督管理局", "government"),
    ("D19", "市行政审批服务局", "government"),
    ("D20", "国家税务总局青岚市税务局", "stationed"),
    ("D21", "青岚市气象局", "stationed"),
    ("D22", "青岚供电公司", "stationed"),
    ("D23", "青岚海关", "stationed"),
    ("D24", "人民银行青岚分行", "stationed"),
    ("D25", "市公共资源交易中心", "entrusted_institution"),
    ("D26", "市城市管理综合服务中心", "entrusted_institution"),
    ("D27", "市大数据中心", "entrusted_institution"),
    ("D28", "青岚经济技术开发区", "development_zone"),
    ("D29", "青岚高新技术产业开发区", "development_zone"),
    ("D30", "临江综合保税区", "development_zone"),
]
NOT_ON_PLATFORM = {"D23", "D24", "D30"}

COUNTY_CATS = ("key_development", "development_potential", "ecological_protection")
GROWTH_CATS = ("key_development", "development_potential")
DEPT_CATS = ("party_mass", "government", "stationed", "entrusted_institution", "development_zone")
ALL_CATS = COUNTY_CATS + DEPT_CATS

# Cumulative share of an annual target planned by the end of each month.
INVESTMENT_SHAPE = (4, 9, 17, 25, 34, 44, 52, 60, 69, 79, 89, 100)


def _plan(target: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(target * share) / 100 for share in INVESTMENT_SHAPE)


def _units() -> tuple[UnitRow, ...]:
    units = []
    for code, name, category in COUNTIES + DEPARTMENTS:
        kind = "county" if code.startswith("C") else "department"
        on = code not in NOT_ON_PLATFORM
        units.append(
            UnitRow(
                code=code,
                name=name,
                kind=kind,
                category=category,
                on_platform=on,
                onboarded_on=date(2025, 3 if kind == "county" else 6, 1) if on else None,
                channels=(f"{DEMO_RECEIVER}/{code}",),
            )
        )
    return tuple(units)


def _item(year: int, code: str, name: str, *, key: bool = False, status: str = "approved",
          doc: str = "", note: str = "") -> ItemRow:  # fmt: skip
    decided = status in ("approved", "filed")
    return ItemRow(
        year=year,
        code=code,
        name=name,
        status=status,
        key=key,
        decided_by=("市委市政府考核委员会" if status == "approved" else "市考核办")
        if decided
        else "",
        decided_on=date(year - 1, 12, 20) if decided else None,
        document_ref=doc or (f"青考发〔{year - 1}〕{int(code[1:]) + 10}号" if decided else ""),
        note=note,
    )


def _items() -> tuple[ItemRow, ...]:
    shared = [
        ("K01", "高质量发展综合绩效", True),
        ("K02", "重大项目建设", True),
        ("K03", "党的建设", True),
        ("K04", "安全生产与应急管理", True),
        ("I05", "优化营商环境", False),
        ("I06", "民生实事", False),
        ("I07", "生态环境保护", False),
        ("I08", "信访维稳", False),
        ("I09", "政务服务", False),
        ("I10", "文明城市创建", False),
    ]
    items = [_item(2025, c, n, key=k) for c, n, k in shared]
    items += [
        _item(2025, "K11", "重点工作督查", key=True),
        _item(2025, "K17", "会议与材料报送", key=True),
        _item(2025, "I18", "档案管理", status="filed"),
        _item(2025, "I19", "信息报送"),
    ]
    items += [_item(2026, c, n, key=k) for c, n, k in shared]
    items += [
        _item(2026, "I19", "信息报送", note="指标区分度不大，2026年简化"),
        _item(2026, "A12", "防范化解债务风险", note="2026年经审批新增"),
        _item(2026, "A13", "锰污染治理", note="2026年经审批新增"),
        _item(2026, "A14", "政治素质考察", status="filed", note="2026年报备新增"),
        _item(2026, "P15", "群众满意度电话调查", status="proposed", note="拟增，尚未审批"),
        _item(2026, "R16", "专项工作汇报会", status="rejected", note="增加基层负担，未予通过"),
    ]
    return tuple(items)


def _ind(year: int, code: str, item: str, name: str, weight: str, direction: str,
         categories: tuple[str, ...], **kw: object) -> IndicatorRow:  # fmt: skip
    return IndicatorRow(
        year=year,
        code=code,
        item=item,
        name=name,
        weight=Decimal(weight),
        direction=direction,
        categories=categories,
        source_field=str(kw.pop("source_field", code.lower())),
        **kw,  # type: ignore[arg-type]
    )


def _milestones(*names: tuple[str, int]) -> tuple[Milestone, ...]:
    return tuple(Milestone(n, m) for n, m in names)


def _indicators(year: int) -> tuple[IndicatorRow, ...]:
    y = year
    rows = [
        _ind(
            y,
            "fai",
            "K01",
            "固定资产投资完成额",
            "12",
            "increase",
            GROWTH_CATS,
            target=Decimal(120),
            plan=_plan(120),
            unit_of_measure="亿元",
        ),
        _ind(
            y,
            "revenue",
            "K01",
            "一般公共预算收入",
            "10",
            "increase",
            COUNTY_CATS,
            target=Decimal(36),
            unit_of_measure="亿元",
        ),
        _ind(
            y,
            "major_project_invest",
            "K02",
            "重大项目年度投资完成额",
            "12",
            "increase",
            GROWTH_CATS,
            target=Decimal(60),
            plan=_plan(60),
            unit_of_measure="亿元",
        ),
        _ind(
            y,
            "major_project_nodes",
            "K02",
            "重大项目关键节点",
            "8",
            "milestone",
            ("key_development",),
            target=Decimal(4),
            milestones=_milestones(
                ("项目开工", 3), ("主体封顶", 6), ("设备安装", 9), ("竣工投产", 12)
            ),
        ),
        _ind(
            y,
            "safety",
            "K04",
            "安全生产责任落实",
            "8",
            "milestone",
            ALL_CATS,
            target=Decimal(3),
            milestones=_milestones(("隐患排查", 4), ("应急演练", 8), ("年度复盘", 12)),
        ),
        _ind(
            y,
            "business_env",
            "I05",
            "惠企政策兑现事项",
            "6",
            "increase",
            ("government", "development_zone", *GROWTH_CATS),
            target=Decimal(240),
            unit_of_measure="件",
        ),
        _ind(
            y,
            "livelihood",
            "I06",
            "民生实事项目完成数",
            "6",
            "increase",
            COUNTY_CATS,
            target=Decimal(12),
            unit_of_measure="个",
        ),
        _ind(
            y,
            "pm25",
            "I07",
            "PM2.5平均浓度",
            "6",
            "decrease",
            COUNTY_CATS,
            baseline=Decimal(38),
            target=Decimal(34),
            unit_of_measure="微克/立方米",
        ),
        _ind(
            y,
            "petitions",
            "I08",
            "信访事项按期办结数",
            "5",
            "increase",
            ALL_CATS,
            target=Decimal(60),
            unit_of_measure="件",
        ),
        _ind(
            y,
            "online_service",
            "I09",
            "政务服务网上办件量",
            "6",
            "increase",
            ("government", "entrusted_institution", "development_zone"),
            target=Decimal(24),
            unit_of_measure="万件",
        ),
        _ind(
            y,
            "key_tasks",
            "K01",
            "年度重点任务推进",
            "15",
            "milestone",
            DEPT_CATS,
            target=Decimal(4),
            milestones=_milestones(
                ("任务分解", 2), ("中期推进", 6), ("攻坚收尾", 10), ("全面完成", 12)
            ),
        ),
        _ind(
            y,
            "civilized_city",
            "I10",
            "文明城市创建测评",
            "4",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="分",
        ),
    ]
    if year == 2025:
        rows += [
            _ind(
                y,
                "party_org",
                "K03",
                "基层党组织建设",
                "6",
                "increase",
                ALL_CATS,
                target=Decimal(100),
                unit_of_measure="%",
            ),
            _ind(
                y,
                "clean_gov",
                "K03",
                "党风廉政建设",
                "6",
                "increase",
                ALL_CATS,
                target=Decimal(100),
                unit_of_measure="%",
            ),
            _ind(
                y,
                "ideology",
                "K03",
                "意识形态工作",
                "4",
                "increase",
                ALL_CATS,
                target=Decimal(100),
                unit_of_measure="%",
            ),
            _ind(
                y,
                "supervision",
                "K11",
                "重点工作督查完成率",
                "6",
                "increase",
                ALL_CATS,
                target=Decimal(100),
                unit_of_measure="%",
            ),
            _ind(
                y,
                "meeting_reports",
                "K17",
                "会议材料报送及时率",
                "3",
                "increase",
                ALL_CATS,
                target=Decimal(100),
                unit_of_measure="%",
            ),
            _ind(
                y,
                "archives",
                "I18",
                "档案规范化管理",
                "2",
                "milestone",
                DEPT_CATS,
                target=Decimal(2),
                milestones=_milestones(("年中自查", 6), ("年度验收", 12)),
            ),
            _ind(
                y,
                "info_reports",
                "I19",
                "政务信息报送量",
                "2",
                "increase",
                ALL_CATS,
                target=Decimal(48),
                unit_of_measure="篇",
            ),
        ]
        return tuple(rows)
    # 2026: party building merged, ecological counties adapted, retired indicators simplified.
    rows = [r for r in rows if r.code != "civilized_city"]
    rows += [
        _ind(
            y,
            "civilized_city",
            "I10",
            "文明城市创建测评",
            "4",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="分",
            lifecycle="simplified",
            reason="completed",
        ),
        _ind(
            y,
            "info_reports",
            "I19",
            "政务信息报送量",
            "2",
            "increase",
            ALL_CATS,
            target=Decimal(48),
            unit_of_measure="篇",
            lifecycle="simplified",
            reason="low_discrimination",
        ),
        _ind(
            y,
            "party_building",
            "K03",
            "党建工作成效",
            "14",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="%",
        ),
        _ind(
            y,
            "party_org",
            "K03",
            "基层党组织建设",
            "6",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="%",
            lifecycle="merged",
            merged_into="party_building",
        ),
        _ind(
            y,
            "clean_gov",
            "K03",
            "党风廉政建设",
            "6",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="%",
            lifecycle="merged",
            merged_into="party_building",
        ),
        _ind(
            y,
            "ideology",
            "K03",
            "意识形态工作",
            "4",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="%",
            lifecycle="merged",
            merged_into="party_building",
        ),
        _ind(
            y,
            "eco_restoration",
            "K02",
            "生态修复治理面积",
            "12",
            "increase",
            ("ecological_protection",),
            target=Decimal(30),
            plan=_plan(30),
            unit_of_measure="平方公里",
            lifecycle="adapted",
            adapted_from="major_project_invest",
        ),
        _ind(
            y,
            "leading_industry",
            "K01",
            "主导产业产值",
            "12",
            "increase",
            ("ecological_protection",),
            target=Decimal(45),
            unit_of_measure="亿元",
            lifecycle="adapted",
            adapted_from="fai",
        ),
        _ind(
            y,
            "debt_ratio",
            "A12",
            "政府债务率",
            "8",
            "decrease",
            COUNTY_CATS,
            baseline=Decimal(128),
            target=Decimal(110),
            unit_of_measure="%",
        ),
        _ind(
            y,
            "debt_risk_tasks",
            "A12",
            "隐性债务化解任务",
            "5",
            "milestone",
            ("government", "development_zone"),
            target=Decimal(3),
            milestones=_milestones(("摸底核查", 3), ("分类处置", 7), ("清零销号", 12)),
        ),
        _ind(
            y,
            "manganese",
            "A13",
            "锰污染综合整治",
            "6",
            "milestone",
            ("development_potential", "ecological_protection"),
            target=Decimal(4),
            milestones=_milestones(
                ("渣场排查", 2), ("渗滤液收集", 5), ("污染地块修复", 9), ("验收销号", 12)
            ),
        ),
        _ind(
            y,
            "political_review",
            "A14",
            "政治素质考察",
            "4",
            "milestone",
            ("party_mass", "government", "stationed", "entrusted_institution"),
            target=Decimal(2),
            milestones=_milestones(("半年考察", 6), ("年度考察", 12)),
        ),
        _ind(
            y,
            "meeting_reports",
            "I19",
            "会议材料报送及时率",
            "3",
            "increase",
            ALL_CATS,
            target=Decimal(100),
            unit_of_measure="%",
            lifecycle="simplified",
            reason="low_value",
        ),
    ]
    return tuple(rows)


def demo_catalog() -> Catalog:
    rules = YearRules().to_dict()
    return Catalog(
        years=(
            YearRow(2025, "2025年度综合考核", rules),
            YearRow(2026, "2026年度综合考核", rules),
        ),
        units=_units(),
        items=_items(),
        indicators=_indicators(2025) + _indicators(2026),
    ).sorted()


def main() -> None:
    catalog = demo_catalog()
    write_yaml(catalog, HERE / "catalog.yaml")
    write_xlsx(catalog, HERE / "catalog.xlsx")
    write_xlsx(Catalog(), Path(__file__).parents[2] / "models" / "catalog" / "template.xlsx")
    print(f"wrote {HERE / 'catalog.yaml'} and catalog.xlsx")


if __name__ == "__main__":
    main()
