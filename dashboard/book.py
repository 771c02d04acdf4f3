"""Customers and shipments: CSV import with a row-by-row report, and templates."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard._actions import action, busy, execute, flash
from dashboard._shared import identity, in_session, operator_note, read, show_table
from dashboard._auth import require_identity

require_identity()


@st.cache_data(ttl=10, show_spinner=False)
def load_size():
    from engine.book import book_size

    return in_session(book_size)


def _start(kind: str) -> None:
    run = action(f"import_{kind}")
    if run.status in ("idle", "done") and st.session_state.get(f"upload_{kind}") is not None:
        run.status = "pending"


def do_import(kind: str) -> str:
    from engine.importer import import_customers, import_shipments

    upload = st.session_state.get(f"upload_{kind}")
    actor = identity().actor
    importer = import_customers if kind == "customers" else import_shipments
    report = in_session(importer, upload.getvalue(), actor, upload.name)
    load_size.clear()
    return (f"{upload.name}: {report.rows:,} rows read, {report.inserted:,} inserted, "
            f"{report.updated:,} updated, {report.rejected:,} rejected.", report)


def show_report(kind: str) -> None:
    report = action(f"import_{kind}").result
    if report is None:
        return
    cols = st.columns(4)
    cols[0].metric("Rows", f"{report.rows:,}")
    cols[1].metric("Inserted", f"{report.inserted:,}")
    cols[2].metric("Updated", f"{report.updated:,}")
    cols[3].metric("Rejected", f"{report.rejected:,}")
    if report.ignored_columns:
        st.caption(f"Ignored unknown column(s): {', '.join(report.ignored_columns)}.")
    errors = pd.DataFrame([e.__dict__ for e in report.errors],
                          columns=["row", "column", "value", "reason"])
    show_table(errors, "rejected rows", f"import_errors_{kind}",
               empty="Every row was accepted.")


def import_tab(kind: str) -> None:
    from engine.importer import CUSTOMER_COLUMNS, SHIPMENT_COLUMNS, ImportFileError, template_csv

    columns = CUSTOMER_COLUMNS if kind == "customers" else SHIPMENT_COLUMNS
    st.caption(f"Columns: {', '.join(columns)}. Row numbers in the report count the header as "
               "row 1. Rows with an existing id are updated; bad rows are rejected and the good "
               "ones kept." + (" Customers must exist before their shipments."
                               if kind == "shipments" else ""))
    st.download_button(f"Download the {kind} template", template_csv(kind),
                       file_name=f"riskcast_{kind}_template.csv", mime="text/csv",
                       key=f"template_{kind}", icon=":material/download:", on_click="ignore")
    st.file_uploader(f"{kind.title()} CSV", type=["csv"], key=f"upload_{kind}")
    key = f"import_{kind}"
    st.button(f"Validate and import {kind}", key=f"import_button_{kind}", type="primary",
              on_click=_start, args=(kind,), icon=":material/upload:",
              disabled=not identity().can_act or busy(key)
              or st.session_state.get(f"upload_{kind}") is None)
    if action(key).status == "pending":
        with st.spinner("Importing..."):
            execute(key, lambda: do_import(kind), (ImportFileError,), f"The {kind} import")
    flash(key)
    show_report(kind)


st.title("Customers and shipments")
size = read(load_size, what="The book size")
if size is not None:
    cols = st.columns(2)
    cols[0].metric("Customers", f"{size[0]:,}")
    cols[1].metric("Shipments", f"{size[1]:,}")
operator_note()
customers, shipments = st.tabs(["Customers", "Shipments"])
with customers:
    import_tab("customers")
with shipments:
    import_tab("shipments")
