"""`care llm`: qualify a model for the fused arm (qualify) and calibrate what it must carry (calibrate)."""
