"""Pure Plotly figure builders: numpy arrays / core results in, `go.Figure` out. Never imports streamlit."""
