package tenants

import (
	"net/mail"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ValidateSlug checks a tenant slug (a DNS-1123 label, as Kubernetes namespaces).
func ValidateSlug(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return Invalid(field, "%q is not a valid slug: %s", s, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateName checks an object name (DNS-1123 subdomain, as Kubernetes objects).
func ValidateName(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		return Invalid(field, "%q is not a valid name: %s", s, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateLabelName checks a DNS-1123 label such as a namespace or pipeline name.
func ValidateLabelName(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return Invalid(field, "%q is not valid: %s", s, strings.Join(errs, "; "))
	}
	return nil
}

// ValidatePromiseName checks a promise name as Kratix does: a Promise is a
// cluster-scoped Kubernetes object, so its name is a DNS-1123 subdomain ("redis.v2"
// is fine), and Kratix labels every Work with it (kratix.io/promise-name,
// lib/resourceutil/work.go GetWorkLabels), so it is at most 63 characters.
func ValidatePromiseName(field, s string) error {
	if err := ValidateName(field, s); err != nil {
		return err
	}
	if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
		return Invalid(field, "%q is not a valid promise name: %s (Kratix puts it in the label kratix.io/promise-name)",
			s, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateLabels checks Kubernetes label keys and values. Keys are checked in
// order, so the same input always reports the same problem.
func ValidateLabels(field string, labels map[string]string) error {
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return Invalid(field, "label key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return Invalid(field, "label %q value %q: %s", k, v, strings.Join(errs, "; "))
		}
	}
	return nil
}

// ValidateEmail checks a plain email address and returns it lower-cased.
func ValidateEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid(field, "is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") {
		return "", Invalid(field, "%q is not an email address", s)
	}
	return strings.ToLower(s), nil
}

// ValidateDomain checks an email domain such as "example.com" (empty is allowed and
// means no automatic membership).
func ValidateDomain(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "@")))
	if s == "" {
		return "", nil
	}
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 || !strings.Contains(s, ".") {
		return "", Invalid(field, "%q is not a domain name like example.com", s)
	}
	return s, nil
}

// EmailDomain returns the lower-cased domain part of an email address.
func EmailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}
