package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/api"
	"github.com/perch-gw/perch/gateway/client"
	"github.com/perch-gw/perch/gateway/loadgen"
)

// simCred is one simulated device's login.
type simCred struct {
	ID          string `json:"id"`
	Credentials string `json:"credentials"`
}

// simReport is what `perch sim --json` prints.
type simReport struct {
	Devices          int       `json:"devices"`
	Broker           string    `json:"broker"`
	Profile          string    `json:"profile"`
	PointsPerReading int       `json:"points_per_reading"`
	QoS              int       `json:"qos"`
	Sent             uint64    `json:"sent"`
	Acknowledged     uint64    `json:"acknowledged"`
	Failed           uint64    `json:"failed"`
	Commands         uint64    `json:"commands"`
	Reconnects       uint64    `json:"reconnects"`
	ElapsedMS        int64     `json:"elapsed_ms"`
	Provisioned      []simCred `json:"provisioned,omitempty"`
}

func newSim(r *remote) *cobra.Command {
	var (
		devices, count, qos                                        int
		prefix, credsFile, profile, topic, command, broker, caFile string
		provision, noCommands                                      bool
		interval, duration                                         time.Duration
		rate                                                       float64
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate devices that publish readings and follow commands, as the firmware examples do",
		Long: `Simulate devices as the firmware examples (firmware-examples/) behave: each
logs in over TLS with its own credentials, publishes a JSON reading to
sensors/<id>/env every --interval ({"temp":21.4,"hum":48.2,"led":0} with the
env profile), follows "on"/"off" on cmd/<id>/led (the console's switch
widget) and reconnects with backoff if its connection is lost.

It creates nothing unless --provision: then it registers the devices
(<prefix>1 to <prefix>N, allowed to publish their readings topic and to
subscribe to their command topic), prints their credentials once and, with
--credentials FILE, saves them there for later runs. Without --provision,
--credentials FILE names the devices to simulate, a line "id password" each.

It finds the MQTT over TLS listener, the account and the CA through the
gateway's API (--broker, --account and --ca override them). At the end it
says how many readings were sent and acknowledged; it fails if the gateway
refused any.`,
		Example: `  perch sim --provision --devices 5 --credentials sim.txt      # until Ctrl-C
  perch sim --credentials sim.txt --interval 1s --duration 10m
  perch sim --credentials sim.txt --profile counter --count 100 --qos 1 --json
  perch sim --credentials sim.txt --topic 'tanks/%c/level' --profile '{"level":{walk},"n":{seq}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if cmd.Flags().Changed("rate") {
				if cmd.Flags().Changed("interval") {
					return errors.New("--rate and --interval say the same thing: give one")
				}
				if rate <= 0 {
					return fmt.Errorf("--rate must be above 0, not %v", rate)
				}
				interval = time.Duration(float64(time.Second) / rate)
			}
			if qos < 0 || qos > 2 {
				return fmt.Errorf("--qos must be 0, 1 or 2, not %d", qos)
			}
			prof, err := loadgen.ParseProfile(profile)
			if err != nil {
				return err
			}
			if !provision && credsFile == "" {
				return errors.New("say which devices to simulate: --credentials FILE, or --provision to create them")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var st struct {
				Account   string            `json:"account"`
				Listeners map[string]string `json:"listeners"`
			}
			if err := c.Do(ctx, "GET", "/api/v1/status", nil, &st); err != nil {
				return err
			}
			if broker == "" {
				if broker, err = simBroker(r.server, st.Listeners["mqtt_tls"]); err != nil {
					return err
				}
			}
			host, _, err := net.SplitHostPort(broker)
			if err != nil {
				return fmt.Errorf("--broker %q: %w", broker, err)
			}
			pool, err := simCA(cmd, c, caFile)
			if err != nil {
				return err
			}

			var creds, provisioned []simCred
			if provision {
				if devices == 0 {
					devices = 1
				}
				if devices < 1 {
					return fmt.Errorf("--devices must be at least 1, not %d", devices)
				}
				if creds, err = simProvision(cmd, c, prefix, devices, topic, command); err != nil {
					return err
				}
				provisioned = creds
				if credsFile != "" {
					if err := writeSimCreds(credsFile, creds); err != nil {
						return err
					}
				}
				if !r.json {
					fmt.Fprintf(out, "Registered %d device(s); their credentials, shown only now:\n", len(creds))
					for _, d := range creds {
						fmt.Fprintf(out, "  %-20s %s\n", d.ID, d.Credentials)
					}
					if credsFile != "" {
						fmt.Fprintf(out, "Saved to %s: the next run takes them with --credentials %s.\n", credsFile, credsFile)
					}
				}
			} else {
				if creds, err = readSimCreds(credsFile); err != nil {
					return err
				}
				if devices != 0 {
					if devices < 1 || devices > len(creds) {
						return fmt.Errorf("--devices %d: %s holds %d devices", devices, credsFile, len(creds))
					}
					creds = creds[:devices]
				}
			}

			list := make([]loadgen.Device, len(creds))
			for i, d := range creds {
				list[i] = loadgen.Device{ClientID: d.ID, Username: st.Account, Password: d.Credentials}
			}
			var mu sync.Mutex
			events := errOut
			if !r.json {
				events = out
			}
			sim := loadgen.Sim{
				Devices: len(list), Interval: interval, Count: count, Duration: duration, QoS: byte(qos),
				Topic: topic, Command: command, NoCommands: noCommands, Profile: prof,
				Events: func(e loadgen.SimEvent) {
					mu.Lock()
					defer mu.Unlock()
					fmt.Fprintf(events, "%s: %s\n", e.Device, simEventText(e))
				},
			}
			target := loadgen.Target{
				Name:    "perch",
				Address: broker,
				TLS:     &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12},
				Devices: loadgen.DeviceList(list),
			}
			if !r.json {
				until := "Ctrl-C stops it"
				switch {
				case count > 0 && duration > 0:
					until = fmt.Sprintf("%d readings each, or %s", count, duration)
				case count > 0:
					until = fmt.Sprintf("%d readings each", count)
				case duration > 0:
					until = "for " + duration.String()
				}
				fmt.Fprintf(out, "Simulating %d device(s) on %s: each publishes a reading (profile %s) to %s every %s at QoS %d; %s.\n",
					len(list), broker, prof.Name(), strings.ReplaceAll(topic, "%c", "<id>"), interval, qos, until)
			}
			res, err := sim.Run(ctx, target)
			if err != nil {
				return err
			}
			if r.json {
				if err := printJSON(out, simReport{
					Devices: len(list), Broker: broker, Profile: prof.Name(), PointsPerReading: prof.Fields(), QoS: qos,
					Sent: res.Sent, Acknowledged: res.Acknowledged, Failed: res.Failed, Commands: res.Commands,
					Reconnects: res.Reconnects, ElapsedMS: res.Elapsed.Milliseconds(), Provisioned: provisioned,
				}); err != nil {
					return err
				}
			} else {
				acked := fmt.Sprintf("%d acknowledged", res.Acknowledged)
				if qos == 0 {
					acked = "QoS 0: none acknowledged"
				}
				fmt.Fprintf(out, "Done in %s: %d readings sent, %s, %d failed (%d points each); %d commands, %d reconnects.\n",
					res.Elapsed.Round(time.Millisecond), res.Sent, acked, res.Failed, prof.Fields(), res.Commands, res.Reconnects)
			}
			if res.Failed > 0 {
				return fmt.Errorf("%d of %d readings were refused or lost (see above)", res.Failed, res.Sent)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&devices, "devices", "n", 0, "devices to simulate: with --provision, to register (default 1); else the first N of --credentials (default all)")
	f.StringVar(&prefix, "id-prefix", "sim-", "with --provision: device ids are this and 1, 2, ...")
	f.BoolVar(&provision, "provision", false, "register the devices first, with generated credentials")
	f.StringVar(&credsFile, "credentials", "", `file of "id password" lines: the devices to simulate; with --provision, written`)
	f.DurationVar(&interval, "interval", 5*time.Second, "time between two readings of one device")
	f.Float64Var(&rate, "rate", 0, "readings per second of one device (instead of --interval)")
	f.IntVar(&count, "count", 0, "readings per device, then stop (default 0: no limit)")
	f.DurationVar(&duration, "duration", 0, "stop after this long (default 0: no limit)")
	f.IntVarP(&qos, "qos", "q", 1, "QoS of the readings: 0 (as PubSubClient sends), 1 or 2")
	f.StringVar(&profile, "profile", "env", `payloads: env (temp, hum, led), counter (count, led), or a JSON template with {device} {seq} {led} {rand} {walk} {ts}`)
	f.StringVar(&topic, "topic", "sensors/%c/env", "readings topic; %c is the device id")
	f.StringVar(&command, "command", "cmd/%c/led", "command topic (on/off); %c is the device id")
	f.BoolVar(&noCommands, "no-commands", false, "do not subscribe to the command topic")
	f.StringVar(&broker, "broker", "", "MQTT over TLS address host:port (default: the gateway's listener, from its API)")
	f.StringVar(&caFile, "ca", "", "PEM CA the broker's certificate must chain to (default: the gateway's, from its API)")
	return cmd
}

// simEventText says what happened to a simulated device.
func simEventText(e loadgen.SimEvent) string {
	switch e.Kind {
	case loadgen.SimConnected:
		return "connected again"
	case loadgen.SimLost:
		return "connection lost: " + e.Detail
	case loadgen.SimRetry:
		return "connect failed: " + e.Detail
	case loadgen.SimCommand:
		return "LED " + e.Detail
	case loadgen.SimIgnored:
		return "ignored " + e.Detail
	case loadgen.SimRejected:
		return "reading refused: " + e.Detail
	case loadgen.SimNoCommand:
		return "no commands: " + e.Detail
	}
	return e.Kind + " " + e.Detail
}

// simBroker is the MQTT over TLS address to dial: the listener's port, on
// the API server's host when remote, else on the listener's address
// (localhost when it listens on every interface).
func simBroker(server, listener string) (string, error) {
	if listener == "" {
		return "", errors.New("the gateway has no MQTT over TLS listener (mqtt.tls.enabled)")
	}
	host, port, err := net.SplitHostPort(listener)
	if err != nil {
		return "", fmt.Errorf("the gateway's MQTT listener %q: %w", listener, err)
	}
	if server != "" {
		u, err := url.Parse(server)
		if err != nil {
			return "", fmt.Errorf("--server %q: %w", server, err)
		}
		host = u.Hostname()
	} else if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port), nil
}

// simCA reads the CA from file, or else asks the gateway for it.
func simCA(cmd *cobra.Command, c *client.Client, file string) (*x509.CertPool, error) {
	var pem []byte
	var err error
	from := file
	if file != "" {
		pem, err = os.ReadFile(file)
	} else {
		from = "the gateway's /api/v1/ca"
		pem, _, err = c.Raw(cmd.Context(), "GET", "/api/v1/ca", nil, "application/x-pem-file")
	}
	if err != nil {
		return nil, fmt.Errorf("the CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the CA: no PEM certificate in %s", from)
	}
	return pool, nil
}

// simProvision registers prefix1..prefixN, after checking that none
// exists, each allowed to publish its readings and subscribe to its
// commands, and returns their credentials.
func simProvision(cmd *cobra.Command, c *client.Client, prefix string, n int, topic, command string) ([]simCred, error) {
	var existing []api.Device
	if err := c.Do(cmd.Context(), "GET", "/api/v1/devices", nil, &existing); err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(existing))
	for _, d := range existing {
		have[d.ID] = true
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i+1)
		if have[ids[i]] {
			return nil, fmt.Errorf("device %q exists already: simulate it with --credentials, or remove it (perch device rm)", ids[i])
		}
	}
	rules := acl.Rules{Publish: []string{topic}, Subscribe: []string{command}}
	creds := make([]simCred, 0, n)
	for _, id := range ids {
		var d api.Device
		if err := c.Do(cmd.Context(), "POST", "/api/v1/devices", map[string]any{"id": id, "acl": rules}, &d); err != nil {
			return creds, fmt.Errorf("register %s: %w", id, err)
		}
		creds = append(creds, simCred{ID: d.ID, Credentials: d.Credentials})
	}
	return creds, nil
}

func readSimCreds(path string) ([]simCred, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var creds []simCred
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"device-id password\"", path, n)
		}
		creds = append(creds, simCred{ID: fields[0], Credentials: fields[1]})
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("%s names no device", path)
	}
	return creds, nil
}

// writeSimCreds writes the credentials file, readable by its owner only
// from the start, whole or not at all.
func writeSimCreds(path string, creds []simCred) error {
	var b bytes.Buffer
	b.WriteString("# perch sim devices: id and password (perch sim --credentials " + filepath.Base(path) + ")\n")
	for _, d := range creds {
		fmt.Fprintf(&b, "%s %s\n", d.ID, d.Credentials)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save the credentials: %w", err)
	}
	return nil
}
