package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// exitCode is the exit code for err.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

// describe turns err into one line: what failed, ACR's error code, and
// what to do about it. Whatever the registry put in its error code or
// message, the line stays one line of printable text.
func describe(err error) string { return oneLine(explain(err)) }

// oneLine replaces control characters (a newline a registry put in an
// error code, say) with spaces, and drops the library's "azacr: "
// prefix, which the command's own prefix repeats.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	for strings.HasPrefix(s, "azacr: ") {
		s = strings.TrimPrefix(s, "azacr: ")
	}
	return s
}

// explain says what went wrong, and what to do about it.
func explain(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("%s %s: %d %s", re.RawResponse.Request.Method, re.RawResponse.Request.URL.Path, re.StatusCode, re.ErrorCode)
		if hint := hintFor(re); hint != "" {
			msg += " (" + hint + ")"
		}
		return msg
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, azacr.ErrPlatformNotFound):
		return line + " (choose one of those with --platform)"
	case errors.Is(err, azacr.ErrDigestMismatch):
		return line + " (the content is not what its digest says: nothing was stored under it)"
	}
	return line
}

// hintFor says what to do about a registry's refusal.
func hintFor(re *azcore.ResponseError) string {
	switch re.ErrorCode {
	case "UNAUTHORIZED":
		return "sign in: az login, or --username with --password-stdin"
	case "DENIED":
		return "the identity lacks the role for this, or the item is locked: see azacr show, azacr unlock"
	case "NAME_UNKNOWN":
		return "no such repository"
	case "MANIFEST_UNKNOWN", "TAG_UNKNOWN":
		return "no such tag or manifest: see azacr tags"
	case "BLOB_UNKNOWN":
		return "no such blob in this repository"
	case "TOOMANYREQUESTS":
		return "throttled: retry later, or lower --concurrency"
	}
	return ""
}
