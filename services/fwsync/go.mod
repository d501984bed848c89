module github.com/bulwarkhq/bulwark/services/fwsync

go 1.26.8

require github.com/bulwarkhq/bulwark/libs v0.0.0

replace github.com/bulwarkhq/bulwark/libs => ../../libs
