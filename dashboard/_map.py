"""The exposure map: chokepoints, lanes and affected shipments on a world map.

Plotly draws coastlines from a topojson file. The file ships in
``static/topojson`` (served by Streamlit's static file serving) so that the
map works without reaching Plotly's CDN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard._shared import SEVERITY_COLORS, money


def topojson_url() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/static/topojson/" if base else "/app/static/topojson/"


def exposure_map(chokepoint_frame: pd.DataFrame, shipments: pd.DataFrame,
                 lanes: list[dict], all_chokepoints: list) -> go.Figure:
    figure = go.Figure()
    for lane in lanes:
        figure.add_trace(go.Scattergeo(
            lat=lane["lat"], lon=lane["lon"], mode="lines", name=lane["name"],
            line={"width": 1.2, "color": "rgba(90,110,140,0.45)"}, hoverinfo="name",
            showlegend=False,
        ))
    figure.add_trace(go.Scattergeo(
        lat=[c.lat for c in all_chokepoints], lon=[c.lon for c in all_chokepoints],
        text=[c.name for c in all_chokepoints], mode="markers", name="Chokepoint",
        marker={"size": 7, "color": "rgba(60,60,60,0.55)", "symbol": "diamond"},
        hovertemplate="%{text}<extra></extra>",
    ))
    for severity, color in SEVERITY_COLORS.items():
        subset = shipments[shipments["severity"] == severity] if not shipments.empty else shipments
        if subset.empty:
            continue
        figure.add_trace(go.Scattergeo(
            lat=subset["lat"], lon=subset["lon"], mode="markers",
            name=f"Shipment ({severity.lower()})",
            marker={"size": 6, "color": color, "opacity": 0.8,
                    "line": {"width": 0.5, "color": "white"}},
            customdata=np.stack([subset["shipment_id"], subset["customer"],
                                 subset["chokepoint"], subset["decision_id"],
                                 subset["cargo_value_usd"].map(money)], axis=-1),
            hovertemplate=("%{customdata[0]} (%{customdata[1]})<br>reaches %{customdata[2]}"
                           "<br>decision %{customdata[3]}, cargo %{customdata[4]}"
                           "<extra></extra>"),
        ))
    if not chokepoint_frame.empty:
        sizes = np.sqrt(chokepoint_frame["exposure_usd"].clip(lower=0).to_numpy(float))
        sizes = 14 + 36 * sizes / max(sizes.max(), 1.0)
        figure.add_trace(go.Scattergeo(
            lat=chokepoint_frame["lat"], lon=chokepoint_frame["lon"], mode="markers+text",
            name="Exposure at chokepoint",
            text=chokepoint_frame["name"], textposition="top center",
            marker={"size": sizes, "opacity": 0.55,
                    "color": [SEVERITY_COLORS[s] for s in chokepoint_frame["worst_severity"]],
                    "line": {"width": 1.5, "color": "#333"}},
            customdata=np.stack([chokepoint_frame["exposure_usd"].map(money),
                                 chokepoint_frame["decisions"],
                                 chokepoint_frame["customers"]], axis=-1),
            hovertemplate=("<b>%{text}</b><br>exposed %{customdata[0]}<br>"
                           "%{customdata[1]} decisions, %{customdata[2]} customers"
                           "<extra></extra>"),
        ))
    figure.update_geos(
        projection_type="natural earth", showland=True, landcolor="#eceff1",
        showocean=True, oceancolor="#e3f0fb", showcountries=True, countrycolor="#ffffff",
        coastlinecolor="#b0bec5", lataxis_range=[-45, 70], lonaxis_range=[-100, 150],
    )
    figure.update_layout(height=520, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                         legend={"orientation": "h", "y": -0.02})
    return figure
