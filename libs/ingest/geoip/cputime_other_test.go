//go:build !linux

package geoip

func threadCPU() (int64, bool) { return 0, false }
