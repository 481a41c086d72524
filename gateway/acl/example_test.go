package acl_test

import (
	"fmt"

	"github.com/perch-gw/perch/gateway/acl"
)

func ExampleMatch() {
	fmt.Println(acl.Match("sport/#", "sport"))
	fmt.Println(acl.Match("sport/+", "sport/tennis/player1"))
	fmt.Println(acl.Match("#", "$SYS/broker/uptime"))
	// Output:
	// true
	// false
	// false
}

func ExampleCovers() {
	fmt.Println(acl.Covers("a/#", "a/+/b"))
	fmt.Println(acl.Covers("a/+", "a/#"))
	// Output:
	// true
	// false
}

func ExampleCompile() {
	r := acl.Rules{
		Publish:   []string{"devices/%c/up/#"},
		Subscribe: []string{"devices/%c/cmd/+", "accounts/%u/broadcast"},
	}
	if err := r.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	c := acl.Compile(r, "dev-1", "acme")
	fmt.Println(c.CanPublish("devices/dev-1/up/temp"))
	fmt.Println(c.CanPublish("devices/dev-2/up/temp"))
	fmt.Println(c.CanSubscribe("$share/workers/devices/dev-1/cmd/+"))
	fmt.Println(c.CanReceive("accounts/acme/broadcast"))
	// Output:
	// true
	// false
	// true
	// true
}

func ExampleRules_Validate() {
	err := acl.Rules{Publish: []string{"a/#", "a/#/b"}}.Validate()
	fmt.Println(err)
	// Output:
	// acl: publish[1] "a/#/b": '#' must be the last level
}
