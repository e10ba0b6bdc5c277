//! Golden cases comparing with Go's text/template and Prometheus.
