// Command etcd is the etcd server, built from the published server module for the mtm
// testbed. It only hands its arguments to etcdmain, the package behind upstream's binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
