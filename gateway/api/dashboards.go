package api

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/perch-gw/perch/gateway/dashboard"
)

// maxDashboardBody bounds a dashboard sent to the API.
const maxDashboardBody = 256 << 10

// Dashboards is what the API needs of the dashboard store.
type Dashboards interface {
	List() ([]dashboard.Dashboard, error)
	Get(id string) (dashboard.Dashboard, error)
	Create(d dashboard.Dashboard) (dashboard.Dashboard, error)
	Replace(id string, d dashboard.Dashboard) (dashboard.Dashboard, error)
	Delete(id string) error
}

var _ Dashboards = (*dashboard.Store)(nil)

// dashboardError maps dashboard errors to API errors.
func dashboardError(err error) error {
	var fe *dashboard.FieldError
	switch {
	case errors.As(err, &fe) && errors.Is(err, dashboard.ErrUnknownField):
		return errorf(http.StatusBadRequest, "unknown_field", fe.Field, "%s", fe.Error())
	case errors.As(err, &fe) && errors.Is(err, dashboard.ErrType):
		return errorf(http.StatusBadRequest, "bad_type", fe.Field, "%s", fe.Error())
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "invalid", fe.Field, "%s", fe.Error())
	case errors.Is(err, dashboard.ErrSyntax):
		return errorf(http.StatusBadRequest, "bad_json", "", "%v", err)
	case errors.Is(err, dashboard.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "id", "%v", err)
	case errors.Is(err, dashboard.ErrExists):
		return errorf(http.StatusConflict, "exists", "id", "%v", err)
	}
	return err
}

func (s *Server) dashboards() (Dashboards, error) {
	if s.cfg.Dashboards == nil {
		return nil, errorf(http.StatusNotFound, "not_found", "", "dashboards are not enabled")
	}
	return s.cfg.Dashboards, nil
}

func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.dashboards()
	if err != nil {
		return err
	}
	list, err := ds.List()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.dashboards()
	if err != nil {
		return err
	}
	d, err := ds.Get(r.PathValue("id"))
	if err != nil {
		return dashboardError(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// readDashboard reads a dashboard body strictly (dashboard.Decode: every
// error names its field's path); the store validates it.
func readDashboard(w http.ResponseWriter, r *http.Request) (dashboard.Dashboard, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return dashboard.Dashboard{}, errorf(http.StatusUnsupportedMediaType, "bad_content_type", "", "Content-Type must be application/json, not %q", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDashboardBody))
	if err != nil {
		var large *http.MaxBytesError
		if errors.As(err, &large) {
			return dashboard.Dashboard{}, errorf(http.StatusRequestEntityTooLarge, "too_large", "", "request body larger than %d bytes", maxDashboardBody)
		}
		return dashboard.Dashboard{}, errorf(http.StatusBadRequest, "bad_body", "", "reading the body: %v", err)
	}
	d, err := dashboard.Decode(body)
	if err != nil {
		return dashboard.Dashboard{}, dashboardError(err)
	}
	return d, nil
}

func (s *Server) createDashboard(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.dashboards()
	if err != nil {
		return err
	}
	d, err := readDashboard(w, r)
	if err != nil {
		return err
	}
	if d, err = ds.Create(d); err != nil {
		return dashboardError(err)
	}
	w.Header().Set("Location", "/api/v1/dashboards/"+d.ID)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

// replaceDashboard sets a dashboard's name and widgets; the body's id may
// be left out, and must be the path's if given.
func (s *Server) replaceDashboard(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.dashboards()
	if err != nil {
		return err
	}
	d, err := readDashboard(w, r)
	if err != nil {
		return err
	}
	if d, err = ds.Replace(r.PathValue("id"), d); err != nil {
		return dashboardError(err)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.dashboards()
	if err != nil {
		return err
	}
	if err := ds.Delete(r.PathValue("id")); err != nil {
		return dashboardError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
