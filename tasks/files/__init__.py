"""Files: reading and writing the catalog (XLSX/YAML), the one workbook writer, the exports."""
