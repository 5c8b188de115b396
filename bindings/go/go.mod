module github.com/stockkeeper/stockkeeper/bindings/go

go 1.22
