"""The one Markdown table writer."""
from f1_brains.util.tables import markdown_table


def test_markdown_table_layout():
    assert markdown_table(["a", "b"], [[1, "x"], ["", 2.5]]) == "| a | b |\n|---|---|\n| 1 | x |\n|  | 2.5 |\n"
    assert markdown_table(["only"], []) == "| only |\n|---|\n"
