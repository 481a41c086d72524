// The widget types: how each is named, sized and configured by default.
// Components load with the dashboard page.
import Chart from './chart.js';
import Gauge from './gauge.js';
import Donut from './donut.js';
import Value from './value.js';
import Led from './led.js';
import Switch from './switch.js';
import Slider from './slider.js';
import Table from './table.js';
import Text from './text.js';

export const types = {
  chart: { label: 'Chart', component: Chart, w: 6, h: 3, options: { mode: 'live', window: '5m', range: '24h', agg: 'avg', every: '' } },
  gauge: { label: 'Gauge', component: Gauge, w: 3, h: 2, options: { min: 0, max: 100, unit: '', decimals: 1 } },
  donut: { label: 'Donut / progress', component: Donut, w: 3, h: 2, options: { min: 0, max: 100, unit: '%', decimals: 0 } },
  value: { label: 'Value', component: Value, w: 3, h: 1, options: { unit: '', decimals: 2 } },
  led: { label: 'LED', component: Led, w: 2, h: 1, options: { thresholds: [{ value: 1, color: '#2fb45a' }] } },
  switch: { label: 'Switch', component: Switch, w: 2, h: 1, options: { topic: '', on: 'on', off: 'off', qos: 1, retain: true } },
  slider: { label: 'Slider', component: Slider, w: 4, h: 1, options: { topic: '', payload: '{value}', min: 0, max: 100, step: 1, qos: 1, retain: true } },
  table: { label: 'Table of latest records', component: Table, w: 6, h: 3, options: { rows: 10 } },
  text: { label: 'Text', component: Text, w: 4, h: 1, options: { text: '' } },
};
