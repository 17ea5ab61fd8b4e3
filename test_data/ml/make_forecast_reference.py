"""Reference forecasts for the ML engine's forecast operation (statsmodels).

Holt-Winters on statsmodels' own CO2 series (monthly means): once with fixed
smoothing parameters (the recursions must agree exactly) and once fitted
(within 2 %), both from the same initial states the engine derives (passed
to statsmodels as "known"). ARIMA on seeded series, fitted by statsmodels'
exact likelihood; the engine fits conditional sum of squares, so forecasts
are held to 2 % and interval widths to 10 %. Run: python3
make_forecast_reference.py (statsmodels 0.15, numpy).
"""

import json
from pathlib import Path

import numpy as np
import statsmodels
import statsmodels.api as sm
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.holtwinters import ExponentialSmoothing

HERE = Path(__file__).parent
co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().ffill()
y = co2.values[-240:]  # 20 years of monthly means
m = 12


def initial(y, seasonal):
    first, second = y[:m].mean(), y[m:2 * m].mean()
    trend = (second - first) / m
    season = y[:m] - first if seasonal == "add" else y[:m] / first
    return float(first), float(trend), [float(s) for s in season]


out = {"statsmodels": statsmodels.__version__, "holt_winters": [], "arima": []}
for seasonal in ["add", "mul"]:
    level, trend, season = initial(y, seasonal)
    for fixed in [True, False]:
        model = ExponentialSmoothing(y, trend="add", seasonal=seasonal, seasonal_periods=m,
                                     initialization_method="known", initial_level=level,
                                     initial_trend=trend, initial_seasonal=season)
        if fixed:
            fit = model.fit(smoothing_level=0.5, smoothing_trend=0.1, smoothing_seasonal=0.2, optimized=False)
        else:
            fit = model.fit(optimized=True)
        out["holt_winters"].append({
            "seasonal": seasonal, "fixed": fixed, "horizon": 24,
            "smoothing": {"alpha": 0.5, "beta": 0.1, "gamma": 0.2} if fixed else None,
            "forecast": [float(v) for v in fit.forecast(24)],
            "params": {k: float(fit.params[k]) for k in ["smoothing_level", "smoothing_trend", "smoothing_seasonal"]},
        })
out["series"] = [float(v) for v in y]

rng = np.random.default_rng(11)
e = rng.normal(0, 1, 500)
ar = np.zeros(500)
for t in range(2, 500):
    ar[t] = 0.6 * ar[t - 1] - 0.3 * ar[t - 2] + e[t]
ar += 50
walk = np.cumsum(0.5 + np.convolve(rng.normal(0, 1, 400), [1, 0.4])[:400]) + 100
arma11 = np.zeros(400)
for t in range(1, 400):
    arma11[t] = 0.5 * arma11[t - 1] + e[t] + 0.3 * e[t - 1]
arma11 += 20
for name, series, order, trend in [("ar2", ar[100:], (2, 0, 0), "c"), ("arma11", arma11[50:], (1, 0, 1), "c"),
                                   ("walk_ma1", walk, (0, 1, 1), "n"), ("walk_ar1", walk, (1, 1, 0), "n")]:
    fit = ARIMA(series, order=order, trend=trend).fit()
    pred = fit.get_forecast(12)
    ci = pred.conf_int(alpha=0.05)
    out["arima"].append({
        "name": name, "order": list(order), "series": [float(v) for v in series],
        "forecast": [float(v) for v in pred.predicted_mean], "lower": [float(v) for v in ci[:, 0]],
        "upper": [float(v) for v in ci[:, 1]], "params": [float(v) for v in fit.params],
    })
(HERE / "forecast_reference.json").write_text(json.dumps(out) + "\n")
for h in out["holt_winters"]:
    print("hw", h["seasonal"], "fixed" if h["fixed"] else "fitted", h["params"], h["forecast"][:3])
for a in out["arima"]:
    print("arima", a["name"], a["params"], a["forecast"][:3])
