#!/usr/bin/env python3
# Regenerates examples/hotel_classes.csv and examples/hotel_classes.xlsx (python3 standard
# library only): python3 tests/data/classlists/make_hotel_xlsx.py <repo root>
# Writes examples/hotel_classes.csv and examples/hotel_classes.xlsx from examples/hotel_classes.txt.
# The xlsx mimics pandas.DataFrame.to_excel(): column A = index (blank header), column B =
# "Col_Names" (the article's header), text through xl/sharedStrings.xml.
import sys, zipfile
from xml.sax.saxutils import escape
root = sys.argv[1]
names = [l.rstrip('\n') for l in open(root + '/examples/hotel_classes.txt', encoding='utf-8')]
with open(root + '/examples/hotel_classes.csv', 'w', encoding='utf-8', newline='') as f:
    f.write('id,Col_Names\r\n')
    for i, n in enumerate(names):
        q = '"' + n.replace('"', '""') + '"' if any(c in n for c in ',"\r\n') else n
        f.write(f'{i + 1},{q}\r\n')
strings = ['Col_Names'] + names
NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'
RNS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'
PNS = 'http://schemas.openxmlformats.org/package/2006/relationships'
ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      '<Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
      '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
      '</Types>')
rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PNS}"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>')
wb = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
      f'<workbook xmlns="{NS}" xmlns:r="{RNS}"><sheets>'
      '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
wbrels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          f'<Relationships xmlns="{PNS}">'
          f'<Relationship Id="rId1" Type="{RNS}/worksheet" Target="worksheets/sheet1.xml"/>'
          f'<Relationship Id="rId2" Type="{RNS}/styles" Target="styles.xml"/>'
          f'<Relationship Id="rId3" Type="{RNS}/sharedStrings" Target="sharedStrings.xml"/>'
          '</Relationships>')
styles = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          f'<styleSheet xmlns="{NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
          '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
          '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
          '<cellXfs count="1"><xf xfId="0"/></cellXfs></styleSheet>')
sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
       f'<sst xmlns="{NS}" count="{len(strings)}" uniqueCount="{len(strings)}">' +
       ''.join(f'<si><t>{escape(s)}</t></si>' for s in strings) + '</sst>')
rows = ['<row r="1"><c r="B1" t="s"><v>0</v></c></row>']
for i, n in enumerate(names):
    r = i + 2
    rows.append(f'<row r="{r}"><c r="A{r}"><v>{i}</v></c><c r="B{r}" t="s"><v>{i + 1}</v></c></row>')
sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<worksheet xmlns="{NS}" xmlns:r="{RNS}"><dimension ref="A1:B{len(names) + 1}"/>'
         '<sheetData>' + ''.join(rows) + '</sheetData></worksheet>')
with zipfile.ZipFile(root + '/examples/hotel_classes.xlsx', 'w', zipfile.ZIP_DEFLATED) as z:
    for name, data in [('[Content_Types].xml', ct), ('_rels/.rels', rels), ('xl/workbook.xml', wb),
                       ('xl/_rels/workbook.xml.rels', wbrels), ('xl/styles.xml', styles),
                       ('xl/sharedStrings.xml', sst), ('xl/worksheets/sheet1.xml', sheet)]:
        zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, data.encode('utf-8'))
