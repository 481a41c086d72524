package gateway

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/perch-gw/perch/gateway/acl"
	"github.com/perch-gw/perch/gateway/bucket"
	"github.com/perch-gw/perch/gateway/config"
	"github.com/perch-gw/perch/gateway/registry"
	"github.com/perch-gw/perch/gateway/secret"
)

// provision applies the devices and buckets the config file declares:
// it creates the missing ones and brings existing ones in line, so that
// applying the same file twice changes nothing.
func (g *Gateway) provision() error {
	for i, spec := range g.cfg.Devices {
		if err := g.provisionDevice(spec); err != nil {
			return fmt.Errorf("config: devices[%d] (%s): %w", i, spec.ID, err)
		}
	}
	for i, spec := range g.cfg.Buckets {
		if err := g.provisionBucket(spec); err != nil {
			return fmt.Errorf("config: buckets[%d] (%s): %w", i, spec.ID, err)
		}
	}
	if n := len(g.cfg.Devices) + len(g.cfg.Buckets); n > 0 {
		g.log.Info("applied the devices and buckets declared in the config", "devices", len(g.cfg.Devices), "buckets", len(g.cfg.Buckets))
	}
	return nil
}

func (g *Gateway) provisionDevice(spec config.DeviceSpec) error {
	enabled := spec.Enabled == nil || *spec.Enabled
	rules := acl.DefaultRules()
	if spec.Publish != nil {
		rules.Publish = spec.Publish
	}
	if spec.Subscribe != nil {
		rules.Subscribe = spec.Subscribe
	}
	d, err := g.registry.Get(spec.ID)
	if errors.Is(err, registry.ErrNotFound) {
		if _, _, err := g.registry.Create(registry.NewDevice{ID: spec.ID, Name: spec.Name, Description: spec.Description,
			Enabled: &enabled, ACL: &rules, Credentials: spec.Credentials}); err != nil {
			return err
		}
		if spec.CredentialsHash != "" {
			return g.registry.SetCredentialsHash(spec.ID, spec.CredentialsHash)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if d.Name != spec.Name || d.Description != spec.Description || d.Enabled != enabled ||
		!slices.Equal(d.ACL.Publish, rules.Publish) || !slices.Equal(d.ACL.Subscribe, rules.Subscribe) {
		if _, err := g.registry.Update(spec.ID, registry.Patch{Name: &spec.Name, Description: &spec.Description, Enabled: &enabled, ACL: &rules}); err != nil {
			return err
		}
	}
	switch {
	case spec.CredentialsHash != "":
		return g.registry.SetCredentialsHash(spec.ID, spec.CredentialsHash)
	case spec.Credentials != "":
		if ok, _ := secret.Verify(d.CredentialsHash, spec.Credentials); !ok {
			_, err := g.registry.SetCredentials(spec.ID, spec.Credentials)
			return err
		}
	}
	return nil
}

func (g *Gateway) provisionBucket(spec config.BucketSpec) error {
	want := bucket.Bucket{ID: spec.ID, Name: spec.Name, Description: spec.Description, Enabled: spec.Enabled == nil || *spec.Enabled,
		Topic: spec.Topic, Retention: bucket.Duration(bucket.DefaultRetention), Resolution: bucket.Duration(bucket.DefaultResolution), Provisioned: true}
	if spec.Retention != "" {
		d, err := config.ParseRetention(spec.Retention)
		if err != nil {
			return err
		}
		want.Retention = bucket.Duration(d)
	}
	if spec.Resolution != "" {
		d, err := time.ParseDuration(spec.Resolution)
		if err != nil {
			return err
		}
		want.Resolution = bucket.Duration(d)
	}
	have, err := g.buckets.Get(spec.ID)
	if errors.Is(err, bucket.ErrNotFound) {
		_, err := g.buckets.Create(want)
		return err
	}
	if err != nil {
		return err
	}
	if have.Name == want.Name && have.Description == want.Description && have.Enabled == want.Enabled &&
		have.Topic == want.Topic && have.Retention == want.Retention && have.Resolution == want.Resolution && have.Provisioned {
		return nil
	}
	_, err = g.buckets.Update(spec.ID, bucket.Patch{Name: &want.Name, Description: &want.Description, Enabled: &want.Enabled,
		Topic: &want.Topic, Retention: &want.Retention, Resolution: &want.Resolution, Provisioned: &want.Provisioned})
	return err
}
