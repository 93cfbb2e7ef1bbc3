package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/planid"
)

// WhatIf replays the program's recorded history under other policies in a
// shadow pipeline and sets the figures beside the live program's (docs/whatif.md).
// `emtm run` gives its console one; a console without one sends people to
// `emtmctl whatif`.
type WhatIf func(ctx context.Context, r WhatIfRequest) (WhatIfResult, error)

// WhatIfRequest is a what-if as the form asks for it.
type WhatIfRequest struct {
	Plan planid.ID
	// Policies are YAML texts by "risk", "program", "outreach", "payment"
	// (left out or blank: the live service's own).
	Policies map[string]string
	// From and To are YYYY-MM-DD, or "" (open).
	From, To string
}

// WhatIfResult is a what-if's heading and figures.
type WhatIfResult struct {
	Title string
	// Rows: figure, live, what-if, change.
	Rows [][4]string
}

// PolicyNames are the policies a what-if takes, in the form's order.
var PolicyNames = []string{"risk", "program", "outreach", "payment"}

// whatIfLimits: the form's size, and how long one what-if may run.
const (
	whatIfMaxBytes = 1 << 20
	whatIfTimeout  = 30 * time.Minute
)

type whatIfPage struct {
	Available bool
	Request   WhatIfRequest
	Result    *WhatIfResult
	Error     string
	Policies  []string
}

// whatIfForm is the what-if page: the form, and a result when one was asked for.
func (h *handler) whatIfForm(_ context.Context, p *Page, _ *http.Request) error {
	if !p.Viewer.Operator {
		return forbidden("a what-if replays every member's history: it is for operators")
	}
	p.Data = &whatIfPage{Available: h.b.WhatIf != nil, Policies: PolicyNames, Request: WhatIfRequest{Plan: p.Plan}}
	return nil
}

// whatIfRun runs the what-if the form asks for, one at a time, and shows its figures.
func (h *handler) whatIfRun(w http.ResponseWriter, r *http.Request) {
	v, err := h.viewer(r)
	if err != nil || !v.Operator {
		h.fail(w, r, Page{Viewer: v}, forbidden("a what-if replays every member's history: it is for operators"))
		return
	}
	p := Page{Name: "whatif", Viewer: v, Plans: h.plans(v), Self: "/whatif"}
	data := &whatIfPage{Available: h.b.WhatIf != nil, Policies: PolicyNames}
	p.Data = data
	r.Body = http.MaxBytesReader(w, r.Body, whatIfMaxBytes)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, p, httpError{code: http.StatusRequestEntityTooLarge, msg: "the form is larger than 1 MiB: " + err.Error()})
		return
	}
	req := WhatIfRequest{Policies: map[string]string{}, From: strings.TrimSpace(r.PostForm.Get("from")), To: strings.TrimSpace(r.PostForm.Get("to"))}
	for _, n := range PolicyNames {
		if t := r.PostForm.Get(n); strings.TrimSpace(t) != "" {
			req.Policies[n] = t
		}
	}
	if len(p.Plans) == 0 {
		h.fail(w, r, p, forbidden("no plan to compare"))
		return
	}
	if req.Plan, err = pickPlan(p.Plans, r.PostForm.Get("plan")); err != nil {
		h.fail(w, r, p, err)
		return
	}
	p.Plan, data.Request = req.Plan, req
	code := http.StatusOK
	switch {
	case h.b.WhatIf == nil:
		code, data.Error = http.StatusNotImplemented, "this console cannot run a what-if: run `bin/emtmctl whatif` where the services are reachable (docs/whatif.md)"
	default:
		select {
		case h.whatIfBusy <- struct{}{}:
			start := time.Now()
			ctx, cancel := context.WithTimeout(r.Context(), whatIfTimeout)
			res, err := h.b.WhatIf(ctx, req)
			cancel()
			<-h.whatIfBusy
			p.Elapsed = time.Since(start)
			if err != nil {
				code, data.Error = http.StatusBadRequest, err.Error()
			} else {
				data.Result = &res
			}
		default:
			code, data.Error = http.StatusTooManyRequests, "a what-if is running: one runs at a time; try again when it has finished"
		}
	}
	h.render(w, code, p)
}
