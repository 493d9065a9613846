package tenants

import (
	"fmt"
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
		return Invalid(field, "%q is not a valid slug: %s", s, labelRule(s, validation.DNS1123LabelMaxLength))
	}
	return nil
}

// ValidateName checks an object name (DNS-1123 subdomain, as Kubernetes objects).
func ValidateName(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		return Invalid(field, "%q is not a valid name: %s", s, subdomainRule(s))
	}
	return nil
}

// ValidateLabelName checks a DNS-1123 label such as a namespace or pipeline name.
func ValidateLabelName(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		return Invalid(field, "%q is not valid: %s", s, labelRule(s, validation.DNS1123LabelMaxLength))
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
			s, labelValueRule(s))
	}
	return nil
}

// ValidateLabels checks Kubernetes label keys and values. Every bad key and every
// bad value is reported (a bad value even when its key is bad too), in key order,
// so the same input always reports the same problems.
func ValidateLabels(field string, labels map[string]string) error {
	var es ValidationErrors
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			_ = es.Add(Invalid(field, "label key %q: %s", k, labelKeyRule(k)))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			_ = es.Add(Invalid(field, "label %q value %q: %s", k, v, labelValueRule(v)))
		}
	}
	return es.Err()
}

// The rules below say in words what apimachinery's regular expressions require;
// apimachinery still decides what is valid.

// labelRule explains a DNS-1123 label of at most max characters.
func labelRule(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("at most %d characters (it has %d)", max, len(s))
	}
	return "use lower-case letters, digits and '-'; start and end with a letter or digit"
}

// subdomainRule explains a DNS-1123 subdomain (an object name).
func subdomainRule(s string) string {
	if len(s) > validation.DNS1123SubdomainMaxLength {
		return fmt.Sprintf("at most %d characters (it has %d)", validation.DNS1123SubdomainMaxLength, len(s))
	}
	return "use lower-case letters, digits, '-' and '.'; start and end with a letter or digit"
}

// labelKeyRule explains a label key: an optional DNS prefix and a name.
func labelKeyRule(k string) string {
	if k == "" {
		return "a label needs a key"
	}
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name = prefix
	} else if errs := validation.IsDNS1123Subdomain(prefix); len(errs) > 0 {
		return "the prefix before '/' must be a DNS name such as example.com/"
	}
	if len(name) > validation.LabelValueMaxLength {
		return fmt.Sprintf("the name is at most %d characters (it has %d)", validation.LabelValueMaxLength, len(name))
	}
	return "use letters, digits, '-', '_' and '.', starting and ending with a letter or digit (optionally after a prefix such as example.com/)"
}

// labelValueRule explains a label value (which may be empty).
func labelValueRule(v string) string {
	if len(v) > validation.LabelValueMaxLength {
		return fmt.Sprintf("at most %d characters (it has %d)", validation.LabelValueMaxLength, len(v))
	}
	return "use letters, digits, '-', '_' and '.', starting and ending with a letter or digit (or leave it empty)"
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
