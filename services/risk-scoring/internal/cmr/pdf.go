package cmr

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// The PDF's page: US Letter, portrait, 12-point text (CMS asks for at least
// 12 points), one-inch side margins.
const (
	fontSize   = 12.0
	lineHeight = 6.0 // mm, for 12-point text
	margin     = 22.0
	labelWidth = 58.0
)

// PDF writes the summary as a PDF document and says how many pages it has.
// The same summary gives the same bytes (its dates are the date prepared);
// its content streams are not compressed, so any tool reads its text.
func (s Summary) PDF() ([]byte, int, error) {
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetMargins(margin, 18, margin)
	pdf.SetAutoPageBreak(true, 20)
	pdf.SetCompression(false)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Medication review summary", true)
	pdf.SetAuthor(s.Plan.Name, true)
	pdf.SetCreator("emtm", true)
	pdf.SetProducer("emtm (go-pdf/fpdf)", true)
	at := time.Date(s.Prepared.Year, s.Prepared.Month, s.Prepared.Day, 0, 0, 0, 0, time.UTC)
	pdf.SetCreationDate(at)
	pdf.SetModificationDate(at)
	pdf.AliasNbPages("{nb}")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // the core fonts are Windows-1252
	text := func(s string) string { return tr(s) }
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(0, 5, text(Form), "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 5, fmt.Sprintf("Page %d of {nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	width, _ := pdf.GetPageSize()
	inner := width - 2*margin
	for _, part := range s.Parts() {
		pdf.AddPage()
		pdf.SetFont("Helvetica", "", fontSize)
		for _, b := range part.Blocks {
			switch b.Kind {
			case Title:
				pdf.SetFont("Helvetica", "B", 15)
				pdf.MultiCell(0, 7.5, text(b.Text), "", "L", false)
				pdf.Ln(3)
				pdf.SetFont("Helvetica", "", fontSize)
			case Header:
				pdf.SetFont("Helvetica", "B", fontSize)
				pdf.MultiCell(0, lineHeight, text(b.Text), "", "L", false)
				pdf.Ln(2)
				pdf.SetFont("Helvetica", "", fontSize)
			case Para:
				pdf.MultiCell(0, lineHeight, text(b.Text), "", "L", false)
				pdf.Ln(3)
			case Bullets:
				for _, it := range b.Items {
					x := pdf.GetX()
					pdf.CellFormat(6, lineHeight, text("\u2022"), "", 0, "L", false, 0, "")
					pdf.MultiCell(inner-6, lineHeight, text(it), "", "L", false)
					pdf.SetX(x)
				}
				pdf.Ln(3)
			case Address:
				pdf.SetDrawColor(120, 120, 120)
				pdf.SetTextColor(70, 70, 70)
				pdf.MultiCell(95, lineHeight, text(b.Text), "1", "L", false)
				pdf.SetDrawColor(0, 0, 0)
				pdf.SetTextColor(0, 0, 0)
				pdf.Ln(5)
			case Box:
				box(pdf, text, b.Rows, inner)
				pdf.Ln(4)
			case Lines:
				keepTogether(pdf, lineHeight+float64(b.Count)*8+4)
				pdf.SetFont("Helvetica", "B", fontSize)
				pdf.MultiCell(0, lineHeight, text(b.Text), "", "L", false)
				pdf.SetFont("Helvetica", "", fontSize)
				for i := 0; i < b.Count; i++ {
					pdf.CellFormat(0, 8, "", "B", 1, "L", false, 0, "")
				}
				pdf.Ln(4)
			}
		}
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, 0, fmt.Errorf("writing the PDF: %w", err)
	}
	return out.Bytes(), pdf.PageCount(), nil
}

// box draws labelled rows, the label in a shaded cell; a box that would not
// fit the rest of the page starts the next one.
func box(pdf *fpdf.Fpdf, text func(string) string, rows [][2]string, inner float64) {
	heights := make([]float64, len(rows))
	total := 0.0
	for i, r := range rows {
		// SplitLines measures the translated (single-byte) text as MultiCell
		// prints it; SplitText would read it as UTF-8.
		n := max(len(pdf.SplitLines([]byte(text(r[1])), inner-labelWidth-2)), len(pdf.SplitLines([]byte(text(r[0])), labelWidth-2)), 1)
		if strings.TrimSpace(r[1]) == "" {
			n = max(n, 2) // room to write
		}
		heights[i] = float64(n)*lineHeight + 2
		total += heights[i]
	}
	keepTogether(pdf, total)
	pdf.SetFillColor(235, 235, 235)
	for i, r := range rows {
		x, y := pdf.GetXY()
		pdf.SetFont("Helvetica", "B", fontSize)
		pdf.Rect(x, y, labelWidth, heights[i], "FD")
		pdf.SetXY(x+1, y+1)
		pdf.MultiCell(labelWidth-2, lineHeight, text(r[0]), "", "L", false)
		pdf.SetFont("Helvetica", "", fontSize)
		pdf.Rect(x+labelWidth, y, inner-labelWidth, heights[i], "D")
		pdf.SetXY(x+labelWidth+1, y+1)
		pdf.MultiCell(inner-labelWidth-2, lineHeight, text(r[1]), "", "L", false)
		pdf.SetXY(x, y+heights[i])
	}
}

// keepTogether starts a new page when a block of height h would not fit the
// rest of this one (a block taller than half a page breaks where it must).
func keepTogether(pdf *fpdf.Fpdf, h float64) {
	_, pageHeight := pdf.GetPageSize()
	if _, _, _, bottom := pdf.GetMargins(); pdf.GetY()+h > pageHeight-bottom-4 && h < pageHeight/2 {
		pdf.AddPage()
	}
}
