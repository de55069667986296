"""``{% runs_chart %}``: the runs-per-day chart, for the admin index and workflow pages."""

from django import template

from workflows.charts import chart

register = template.Library()


@register.inclusion_tag("admin/workflows/runs_chart.html")
def runs_chart(workflow_id: int | None = None, days: int = 30) -> dict:
    return {"chart": chart(days, workflow_id)}
