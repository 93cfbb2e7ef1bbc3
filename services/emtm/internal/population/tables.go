package population

// The shapes below are illustrative, chosen to look like a Part D population
// rather than measured from one. Prevalences are of the order the CMS Chronic
// Conditions Data Warehouse reports for Medicare beneficiaries (hypertension
// and hyperlipidemia in about half, diabetes in about a quarter, heart failure
// and COPD near one in ten); every figure is a reading written down here, not
// a calibration. Drugs are RxNorm concepts of emtm's drug reference
// (libs/drugref/rxnorm.csv), with its ingredients and descriptions, so that a
// generated claim resolves exactly as a pharmacy's would (a test checks it).

// drug is a product a regimen dispenses.
type drug struct {
	rxcui, ingredients, description string
	// perDayMilli is the units a day the regimen takes (thousandths);
	// unitMilliCents the ingredient cost of one unit (thousandths of a cent:
	// a generic tablet costs a few cents).
	perDayMilli    int64
	unitMilliCents int64
	// copayCents is the member's share of a fill of up to 34 days (three
	// times that for a 90-day fill), capped at the fill's total.
	copayCents int64
	// inhaler: one unit lasts 30 days whatever the dose.
	inhaler bool
}

var (
	amlodipine    = drug{"197361", "amlodipine", "Amlodipine 5 MG Oral Tablet", 1000, 4000, 0, false}
	lisinopril    = drug{"314076", "lisinopril", "lisinopril 10 MG Oral Tablet", 1000, 3000, 0, false}
	losartan      = drug{"979492", "losartan", "losartan potassium 50 MG Oral Tablet", 1000, 9000, 300, false}
	hctz          = drug{"310798", "hydrochlorothiazide", "Hydrochlorothiazide 25 MG Oral Tablet", 1000, 2500, 0, false}
	simvastatin   = drug{"312961", "simvastatin", "Simvastatin 20 MG Oral Tablet", 1000, 3500, 0, false}
	metformin     = drug{"860975", "metformin", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", 2000, 6000, 0, false}
	carvedilol    = drug{"200033", "carvedilol", "carvedilol 25 MG Oral Tablet", 2000, 5000, 300, false}
	furosemide    = drug{"313988", "furosemide", "Furosemide 40 MG Oral Tablet", 1000, 2000, 0, false}
	clopidogrel   = drug{"309362", "clopidogrel", "Clopidogrel 75 MG Oral Tablet", 1000, 12000, 300, false}
	advair        = drug{"896209", "fluticasone / salmeterol", "60 ACTUAT Fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder Inhaler", 1000, 38000000, 4700, true}
	albuterol     = drug{"2123111", "albuterol", "NDA020503 200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", 1000, 3200000, 1000, true}
	alendronate   = drug{"904419", "alendronate", "Alendronic acid 10 MG Oral Tablet", 1000, 9000, 300, false}
	galantamine   = drug{"310436", "galantamine", "Galantamine 4 MG Oral Tablet", 2000, 45000, 500, false}
	naproxen      = drug{"198014", "naproxen", "Naproxen 500 MG Oral Tablet", 2000, 4000, 0, false}
	diazepam      = drug{"197591", "diazepam", "Diazepam 5 MG Oral Tablet", 2000, 3000, 0, false}
	carbamazepine = drug{"308971", "carbamazepine", "Carbamazepine[Tegretol]", 2000, 60000, 1000, false}
	diphenhydra   = drug{"1049630", "diphenhydramine", "diphenhydrAMINE Hydrochloride 25 MG Oral Tablet", 1000, 2000, 0, false}
	hydrocodone   = drug{"857005", "acetaminophen / hydrocodone", "Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet", 4000, 25000, 500, false}
	oxycodoneIR   = drug{"1049625", "acetaminophen / oxycodone", "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet [Percocet]", 4000, 60000, 1000, false}
	oxycodoneER   = drug{"1860154", "oxycodone", "Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG Extended Release Oral Tablet", 2000, 700000, 4700, false}
	tramadol      = drug{"835603", "tramadol", "tramadol hydrochloride 50 MG Oral Tablet", 3000, 3000, 0, false}
	amoxicillin   = drug{"308192", "amoxicillin", "Amoxicillin 500 MG Oral Tablet", 3000, 5000, 0, false}
	azithromycin  = drug{"141962", "azithromycin", "Azithromycin 250 MG Oral Capsule", 1000, 40000, 0, false}
)

// drugs lists every drug the generator dispenses (for the test that each
// resolves through the drug reference).
var drugs = []*drug{&amlodipine, &lisinopril, &losartan, &hctz, &simvastatin, &metformin, &carvedilol, &furosemide, &clopidogrel, &advair, &albuterol, &alendronate, &galantamine, &naproxen, &diazepam, &carbamazepine, &diphenhydra, &hydrocodone, &oxycodoneIR, &oxycodoneER, &tramadol, &amoxicillin, &azithromycin}

// condition is a diagnosis some members have and the regimens it leads to.
type condition struct {
	code, description string
	// perMille is the prevalence at the start (per thousand members); newPerMille
	// the members a year who are diagnosed during the history (new starts).
	perMille, newPerMille int
	minAge                int
	// regimens: one is picked (by weight); each lists the drugs taken together.
	regimens []regimen
	// treatedPerMille is the share of those diagnosed who fill a regimen at all.
	treatedPerMille int
	// frail: present at the start, it raises the member's mortality and
	// hospital use by half. primaryCare: always prescribed by the member's
	// primary care prescriber (else a specialist for 40 % of members).
	frail, primaryCare bool
}

type regimen struct {
	weight int
	drugs  []*drug
}

// Conditions by SNOMED CT concept (services/risk-scoring/internal/chronic/conditions.csv).
var conditions = []condition{
	{"59621000", "Essential hypertension", 560, 25, 0, []regimen{{30, []*drug{&lisinopril}}, {15, []*drug{&amlodipine}}, {15, []*drug{&losartan}}, {20, []*drug{&lisinopril, &hctz}}, {10, []*drug{&losartan, &amlodipine}}, {10, []*drug{&lisinopril, &amlodipine}}}, 900, false, true},
	{"55822004", "Hyperlipidemia", 470, 25, 0, []regimen{{1, []*drug{&simvastatin}}}, 750, false, true},
	{"44054006", "Diabetes mellitus type 2", 270, 12, 0, []regimen{{1, []*drug{&metformin}}}, 800, false, true},
	{"84114007", "Heart failure", 110, 10, 0, []regimen{{60, []*drug{&carvedilol, &furosemide}}, {40, []*drug{&carvedilol, &furosemide, &lisinopril}}}, 900, true, false},
	{"13645005", "Chronic obstructive lung disease", 100, 6, 0, []regimen{{70, []*drug{&advair, &albuterol}}, {30, []*drug{&albuterol}}}, 850, true, false},
	{"64859006", "Osteoporosis", 90, 5, 0, []regimen{{1, []*drug{&alendronate}}}, 600, false, false},
	{"26929004", "Alzheimer's disease", 60, 8, 75, []regimen{{1, []*drug{&galantamine}}}, 700, false, false},
	{"239873007", "Osteoarthritis of knee", 250, 15, 0, []regimen{{45, []*drug{&naproxen}}, {25, []*drug{&hydrocodone}}, {12, []*drug{&tramadol}}, {12, []*drug{&oxycodoneIR}}, {6, []*drug{&oxycodoneER, &oxycodoneIR}}}, 550, false, false},
	{"21897009", "Generalized anxiety disorder", 80, 5, 0, []regimen{{1, []*drug{&diazepam}}}, 600, false, false},
	{"84757009", "Epilepsy", 15, 1, 0, []regimen{{1, []*drug{&carbamazepine}}}, 950, false, false},
	{"363346000", "Malignant neoplastic disease", 50, 10, 0, nil, 0, true, false},
	{"46177005", "End-stage renal disease", 6, 1, 0, nil, 0, true, false},
}

// ischemic is the share (per thousand) of members with hypertension who also
// take clopidogrel, and insomnia the share of members 70 or older who take
// diphenhydramine at night (a Beers drug).
const (
	clopidogrelPerMille     = 60
	diphenhydraminePerMille = 40
)
